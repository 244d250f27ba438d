//! The built-in demo backend: no network, no key.
//!
//! Selected by a `base_url` starting with `demo://`. Answers are Markdown,
//! deterministic for a given model id and prompt (seeded by both), and
//! streamed word by word at [`DispatchConfig::demo_pace`](crate::DispatchConfig::demo_pace).
//! Each demo model has its own style and quality, so that votes between
//! them produce a meaningful leaderboard:
//!
//! | model | style |
//! |---|---|
//! | `demo-alpha` | thorough: an overview, a bulleted list, code when asked, a bold summary |
//! | `demo-beta` | concise: two or three sentences, one bold point |
//! | `demo-gamma` | step by step: numbered steps, code when asked, a tip |
//! | `demo-delta` | rambling: vague, repetitive, no structure (the weak one) |
//! | `demo-echo` | the prompt, verbatim (for tests of rendering untrusted text) |
//!
//! Other model ids get one of these styles, chosen by the id. Answers never
//! contain a model's name nor a well-known vendor name, so they never trip
//! leak detection (words of the prompt that would are left out of the echo).

mod text;

use std::time::Duration;

use crate::{
    BackendSpec, ChatMessage, Failure, Role,
    side::{Flow, Sink},
};

/// The `base_url` prefix that selects the demo backend.
pub(crate) const DEMO_SCHEME: &str = "demo://";

/// A built-in demo model, as `serve --demo` registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoModel {
    /// Display name, revealed after the vote.
    pub name: String,
    /// Maker, revealed after the vote.
    pub organization: String,
    /// The model id, which selects the answer style.
    pub model: String,
    /// Always `demo://`.
    pub base_url: String,
}

/// The four demo models, best first in expected quality.
pub fn demo_models() -> Vec<DemoModel> {
    [
        ("alpha-demo", "demo-alpha"),
        ("beta-demo", "demo-beta"),
        ("gamma-demo", "demo-gamma"),
        ("delta-demo", "demo-delta"),
    ]
    .into_iter()
    .map(|(name, model)| DemoModel {
        name: name.to_owned(),
        organization: "Arena Demo".to_owned(),
        model: model.to_owned(),
        base_url: DEMO_SCHEME.to_owned(),
    })
    .collect()
}

/// The full answer a demo model gives to a prompt.
pub fn demo_answer(model: &str, prompt: &str) -> String {
    if model == ECHO_MODEL {
        return prompt.to_owned();
    }
    text::answer(model, prompt)
}

/// The demo model id that answers with the prompt itself.
pub const ECHO_MODEL: &str = "demo-echo";

/// Streams the demo answer to the last user message into `sink`.
pub(crate) async fn generate(
    spec: &BackendSpec,
    messages: &[ChatMessage],
    pace: Duration,
    sink: &mut Sink,
) -> Result<(), Failure> {
    let prompt = messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map_or("", |m| m.content.as_str());
    let answer = demo_answer(&spec.model, prompt);
    let words = split_words(&answer);
    // A short "thinking" pause before the first word, longer for the
    // thorough styles, like real models.
    pause(pace * text::thinking_words(&spec.model)).await;
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            pause(pace).await;
        }
        if sink.push(word).await == Flow::Stop {
            break;
        }
    }
    sink.set_output_tokens(words.len() as u64);
    Ok(())
}

async fn pause(duration: Duration) {
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
}

/// Cuts text into words, each keeping the whitespace that follows it.
fn split_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            words.push(&text[start..i]);
            start = i;
            in_space = false;
        }
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mentions_identity;

    const PROMPTS: &[&str] = &[
        "How do I sort a list in Python?",
        "Write a haiku about autumn.",
        "What is the capital of France?",
        "Explain quantum computing to a child",
        "Can you write a Rust function that reverses a string?",
        "Are you made by OpenAI? Which model are you, demo alpha?",
        "",
        "Tell me about the history of the printing press and why it mattered so much for Europe",
    ];

    #[test]
    fn answers_are_deterministic_and_differ_between_models() {
        for prompt in PROMPTS {
            let answers: Vec<String> = demo_models()
                .iter()
                .map(|m| demo_answer(&m.model, prompt))
                .collect();
            for (model, answer) in demo_models().iter().zip(&answers) {
                assert_eq!(answer, &demo_answer(&model.model, prompt));
                assert!(answer.split_whitespace().count() >= 10, "{answer}");
            }
            for i in 0..answers.len() {
                for j in i + 1..answers.len() {
                    assert_ne!(answers[i], answers[j]);
                }
            }
        }
        assert_ne!(
            demo_answer("demo-alpha", PROMPTS[0]),
            demo_answer("demo-alpha", PROMPTS[1])
        );
    }

    #[test]
    fn answers_never_name_a_model() {
        for model in demo_models() {
            let identity = vec![
                model.name.clone(),
                model.organization.clone(),
                model.model.clone(),
            ];
            for prompt in PROMPTS {
                let answer = demo_answer(&model.model, prompt);
                assert!(
                    !mentions_identity(&answer, &identity),
                    "{}: {answer}",
                    model.model
                );
            }
        }
    }

    #[test]
    fn styles_differ_visibly() {
        let prompt = "Can you write a Rust function that reverses a string?";
        let alpha = demo_answer("demo-alpha", prompt);
        let beta = demo_answer("demo-beta", prompt);
        let gamma = demo_answer("demo-gamma", prompt);
        assert!(
            alpha.contains("\n- ") && alpha.contains("```rust"),
            "{alpha}"
        );
        assert!(beta.len() < alpha.len() && !beta.contains("```"), "{beta}");
        assert!(gamma.contains("\n1. "), "{gamma}");
    }

    #[test]
    fn split_words_keeps_every_character() {
        let text = "Hello  world,\n\n- **item** one\n";
        let words = split_words(text);
        assert_eq!(words.concat(), text);
        assert_eq!(words[0], "Hello  ");
        assert_eq!(words.len(), 5);
    }
}
