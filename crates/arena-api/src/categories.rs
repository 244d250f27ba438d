//! Category tags for live battles, from the first prompt.
//!
//! LMArena tags prompts with a language model; we use cheap, transparent
//! rules so that category leaderboards work offline with no extra service.
//! Tags are stored with the battle and exported as boolean columns.

/// The tags a prompt earns.
pub fn tag_prompt(prompt: &str) -> Vec<String> {
    let lower = prompt.to_lowercase();
    let mut tags = Vec::new();
    if is_coding(prompt, &lower) {
        tags.push("coding".to_owned());
    }
    if is_math(&lower) {
        tags.push("math".to_owned());
    }
    if prompt.chars().count() >= 500 {
        tags.push("long_query".to_owned());
    }
    tags
}

const CODE_WORDS: &[&str] = &[
    "python",
    "javascript",
    "typescript",
    "rust",
    "golang",
    "java ",
    "c++",
    "sql",
    "regex",
    "function",
    "compile",
    "bug",
    "stack trace",
    "code",
    "script",
    "api",
    "html",
    "css",
    "bash",
];

fn is_coding(prompt: &str, lower: &str) -> bool {
    prompt.contains("```")
        || ["fn ", "def ", "#include", "console.log", "=>", "};"]
            .iter()
            .any(|s| prompt.contains(s))
        || CODE_WORDS.iter().any(|w| contains_word(lower, w.trim()))
}

const MATH_WORDS: &[&str] = &[
    "equation",
    "integral",
    "derivative",
    "solve",
    "prove",
    "probability",
    "matrix",
    "theorem",
    "calculate",
];

fn is_math(lower: &str) -> bool {
    MATH_WORDS.iter().any(|w| contains_word(lower, w))
        || lower.as_bytes().windows(3).any(|w| {
            w[0].is_ascii_digit()
                && matches!(w[1], b'+' | b'-' | b'*' | b'/' | b'^' | b'=')
                && w[2].is_ascii_digit()
        })
}

/// Whole-word containment, so "rust" does not match "trust".
fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::tag_prompt;

    #[test]
    fn tags_follow_the_prompt() {
        let cases: &[(&str, &[&str])] = &[
            ("Write a Python function that reverses a list", &["coding"]),
            ("What is 12*7?", &["math"]),
            ("Solve the equation x^2 = 4", &["math"]),
            ("Tell me a story about trust", &[]),
            ("Hello", &[]),
        ];
        for (prompt, expected) in cases {
            assert_eq!(
                tag_prompt(prompt),
                expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{prompt}"
            );
        }
        assert_eq!(tag_prompt(&"a".repeat(600)), vec!["long_query"]);
    }
}
