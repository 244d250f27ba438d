//! Identity-leak detection: does an answer say which model wrote it?
//!
//! Matching is on words, case-insensitive: both texts are cut into runs of
//! letters and digits, and a name matches where its words appear one after
//! another. So `GPT-4`, `gpt 4` and `GPT_4` are the same, and `meta` never
//! matches inside `metadata`. The last word of a name also matches when a
//! version is glued to it (`gpt4o`, `llama3`, `Claude3`), but not when
//! letters are (`gpts`, `metadata`).
//!
//! Besides the model's own names, a built-in list of well-known models and
//! makers is checked. Names that are common words are only matched in a
//! form that can only mean the model: `phi` and `yi` need a version
//! (`Phi-3`, `Yi 34B`), `meta` needs `Meta AI`, `Meta Llama` or `by Meta`,
//! `bard` is left out (Shakespeare) and `google` covers it. Words like
//! `gemini` (the sign), `mistral` (the wind) or `cohere` (the verb) still
//! match: the flag is a conservative signal for reviewing a vote, not proof.

use std::sync::LazyLock;

/// Well-known model and vendor names. A trailing `#` means "only with a
/// version number".
const WELL_KNOWN: &[&str] = &[
    "gpt",
    "chatgpt",
    "openai",
    "claude",
    "anthropic",
    "gemini",
    "gemma",
    "google",
    "deepmind",
    "llama",
    "meta ai",
    "meta llama",
    "by meta",
    "mistral",
    "mixtral",
    "codestral",
    "qwen",
    "alibaba",
    "tongyi",
    "deepseek",
    "phi#",
    "microsoft",
    "grok",
    "xai",
    "command r",
    "cohere",
    "yi#",
    "01 ai",
    "zhipu",
    "chatglm",
    "baichuan",
    "internlm",
    "moonshot ai",
    "kimi",
    "minimax",
    "ernie bot",
    "baidu",
    "vicuna",
    "lmsys",
    "nemotron",
    "nvidia",
    "olmo",
];

/// Single words too generic to identify a model on their own: local
/// servers often call their model `default` or `model`.
const GENERIC: &[&str] = &[
    "model",
    "models",
    "default",
    "local",
    "chat",
    "assistant",
    "base",
    "instruct",
    "latest",
    "main",
    "test",
    "llm",
    "server",
    "custom",
    "gpu",
    "cpu",
    "none",
    "unknown",
];

/// A name as a sequence of lowercase words.
#[derive(Debug)]
struct Pattern {
    words: Vec<String>,
    /// Only matches followed by a version: glued (`phi3`) or after one
    /// `-`, `_` or space (`Phi-3`, `yi 34b`), but not `phi = 1.618`.
    needs_version: bool,
}

impl Pattern {
    fn new(name: &str) -> Option<Self> {
        let (name, needs_version) = match name.strip_suffix('#') {
            Some(stem) => (stem, true),
            None => (name, false),
        };
        let words = words(name);
        (!words.is_empty()).then_some(Self {
            words,
            needs_version,
        })
    }

    /// Whether this name, given as the model's own, can identify it.
    fn is_distinctive(&self) -> bool {
        match self.words.as_slice() {
            [word] => word.chars().count() >= 3 && !GENERIC.contains(&word.as_str()),
            _ => true,
        }
    }

    fn found_in(&self, text: &Text) -> bool {
        if self.needs_version {
            return self.found_with_version(&text.lower);
        }
        let k = self.words.len();
        let words = &text.words;
        words.len() >= k && (0..=words.len() - k).any(|i| self.matches_at(words, i))
    }

    fn matches_at(&self, words: &[String], i: usize) -> bool {
        let k = self.words.len();
        if words[i..i + k - 1] != self.words[..k - 1] {
            return false;
        }
        let Some(suffix) = words[i + k - 1].strip_prefix(self.words[k - 1].as_str()) else {
            return false;
        };
        suffix.is_empty() || starts_with_digit(suffix)
    }

    fn found_with_version(&self, lower: &str) -> bool {
        let stem = self.words.join(" ");
        lower.match_indices(&stem).any(|(at, _)| {
            let before = lower[..at].chars().next_back();
            if before.is_some_and(char::is_alphanumeric) {
                return false;
            }
            let rest = &lower[at + stem.len()..];
            let rest = rest.strip_prefix(['-', '_', ' ']).unwrap_or(rest);
            starts_with_digit(rest)
        })
    }
}

/// An answer prepared for matching.
struct Text {
    words: Vec<String>,
    lower: String,
}

fn starts_with_digit(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Lowercase runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

static BUILT_IN: LazyLock<Vec<Pattern>> =
    LazyLock::new(|| WELL_KNOWN.iter().filter_map(|n| Pattern::new(n)).collect());

/// Whether `answer` names one of `identity` (the model's registered name,
/// organization, upstream id) or a well-known model or maker.
///
/// An upstream id with a path such as `meta-llama/Llama-3-8B-Instruct` is
/// matched whole and by its last segment. An own name that is a single
/// generic word (`default`, `model`, `local`, …) or shorter than three
/// characters is ignored, as it would match ordinary answers. See the module documentation for
/// the matching rules and their limits.
pub fn mentions_identity(answer: &str, identity: &[String]) -> bool {
    let text = Text {
        words: words(answer),
        lower: answer.to_lowercase(),
    };
    if text.words.is_empty() {
        return false;
    }
    let own = identity.iter().flat_map(|name| {
        let last_segment = name.rsplit_once('/').map(|(_, last)| last);
        std::iter::once(name.as_str()).chain(last_segment)
    });
    own.filter_map(|name| Pattern::new(name.trim_end_matches('#')))
        .filter(Pattern::is_distinctive)
        .any(|p| p.found_in(&text))
        || BUILT_IN.iter().any(|p| p.found_in(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(answer: &str, identity: &[&str], expected: bool) {
        let identity: Vec<String> = identity.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            mentions_identity(answer, &identity),
            expected,
            "{answer:?} with {identity:?}"
        );
    }

    #[test]
    fn well_known_names_are_found() {
        for answer in [
            "I am ChatGPT, a large language model.",
            "I am GPT-4 by OpenAI",
            "As gpt4o I cannot",
            "I'm Claude, made by Anthropic.",
            "I was trained by Google.",
            "I am LLaMA 3.",
            "I'm llama3-70b",
            "I am Meta AI.",
            "I was developed by Meta.",
            "I'm Phi-3, a small model",
            "I am Yi 34B.",
            "Je suis Mistral.",
            "I am Qwen, created by Alibaba Cloud.",
            "Command R here",
            "I am Grok, built by xAI.",
        ] {
            check(answer, &[], true);
        }
    }

    #[test]
    fn common_words_do_not_trip() {
        for answer in [
            "Store it in the metadata field.",
            "That joke is very meta.",
            "The golden ratio phi is about 1.618.",
            "phi = 1.618",
            "Yi is a common syllable.",
            "Shakespeare is often called the Bard.",
            "GPTs are not a thing here; a gptq file is.",
            "Here is a recipe for pancakes.",
            "",
        ] {
            check(answer, &[], false);
        }
    }

    #[test]
    fn own_names_are_found_by_words() {
        check("Hi, I'm Nova Prime!", &["Nova Prime", "Acme Labs"], true);
        check("Built at acme-labs.", &["Nova Prime", "Acme Labs"], true);
        check("A nova is a star.", &["Nova Prime", "Acme Labs"], false);
        check("I am Hermes-2-Pro-7B", &["org/hermes-2-pro-7b"], true);
        check("Nothing to see", &["", "  "], false);
        check(
            "This model is the default one.",
            &["default", "model", "AI"],
            false,
        );
        check("I am Local Model 2", &["local-model-2"], true);
    }
}
