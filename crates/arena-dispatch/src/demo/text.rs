//! Composing demo answers from seeded choices among canned phrases.

use std::fmt::Write as _;

use crate::mentions_identity;

/// The answer styles; see the module table in `demo.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Thorough,
    Concise,
    Steps,
    Rambling,
}

impl Style {
    fn of(model: &str) -> Style {
        match model {
            "demo-alpha" => Style::Thorough,
            "demo-beta" => Style::Concise,
            "demo-gamma" => Style::Steps,
            "demo-delta" => Style::Rambling,
            other => [
                Style::Thorough,
                Style::Concise,
                Style::Steps,
                Style::Rambling,
            ][(fnv1a(other.as_bytes()) % 4) as usize],
        }
    }
}

/// How many word-times a model "thinks" before its first word.
pub(super) fn thinking_words(model: &str) -> u32 {
    match Style::of(model) {
        Style::Thorough => 12,
        Style::Concise => 3,
        Style::Steps => 6,
        Style::Rambling => 9,
    }
}

/// The whole answer of `model` to `prompt`.
pub(super) fn answer(model: &str, prompt: &str) -> String {
    let mut seed = fnv1a(model.as_bytes());
    seed ^= fnv1a(prompt.as_bytes()).rotate_left(17);
    let mut rng = Rng(seed);
    let topic = topic(prompt);
    let code = code_language(prompt);
    let mut out = String::new();
    match Style::of(model) {
        Style::Thorough => thorough(&mut rng, &topic, code, &mut out),
        Style::Concise => concise(&mut rng, &topic, &mut out),
        Style::Steps => steps(&mut rng, &topic, code, &mut out),
        Style::Rambling => rambling(&mut rng, &topic, &mut out),
    }
    out.trim_end().to_owned()
}

fn thorough(rng: &mut Rng, topic: &str, code: Option<&str>, out: &mut String) {
    let opening = rng.pick(&[
        "Great question. {T} is easier to reason about once you separate the goal from the constraints.",
        "Here is a clear way to think about {t}, with the points that matter most in practice.",
        "Let's look at {t} from a practical angle: what it is, what to watch for, and how to get started.",
        "{T} comes up often, and a structured approach saves a lot of time.",
    ]);
    let heading = rng.pick(&[
        "Key points",
        "What matters most",
        "A practical overview",
        "The essentials",
    ]);
    let _ = writeln!(out, "{}\n\n**{heading}**\n", fill(opening, topic));
    for (label, sentence) in rng.several(ASPECTS, 3, 5) {
        let _ = writeln!(out, "- **{label}:** {}", fill(sentence, topic));
    }
    out.push('\n');
    if let Some(language) = code {
        let _ = writeln!(out, "A minimal example to start from:\n");
        code_block(rng, language, out);
    }
    let closing = rng.pick(&[
        "In short: **be clear about the goal, start small, and check your results.**",
        "**Bottom line:** {t} rewards a careful first step more than a clever one.",
        "**To sum up:** understand the problem, pick the simplest approach that works, and test it on real examples.",
        "If you share more about your situation, I can tailor this further. **The main idea: keep it simple and verify.**",
    ]);
    let _ = writeln!(out, "{}", fill(closing, topic));
}

fn concise(rng: &mut Rng, topic: &str, out: &mut String) {
    let first = rng.pick(&[
        "**In short:** focus on the core of {t} and ignore the noise.",
        "The key to {t} is **a clear goal and a small first step**.",
        "**Short answer:** it depends on your constraints, but the simplest option usually wins for {t}.",
        "For {t}, **start with the basics** and refine from there.",
    ]);
    let _ = write!(out, "{} ", fill(first, topic));
    for sentence in rng.several(SUPPORT, 1, 2) {
        let _ = write!(out, "{} ", fill(sentence, topic));
    }
    if rng.chance(40) {
        out.push_str("Hope that helps!");
    }
}

fn steps(rng: &mut Rng, topic: &str, code: Option<&str>, out: &mut String) {
    let opening = rng.pick(&[
        "Let's break {t} down into steps:",
        "Here is a step-by-step approach to {t}:",
        "You can tackle {t} in a few steps:",
    ]);
    let _ = writeln!(out, "{}\n", fill(opening, topic));
    for (i, (label, sentence)) in rng.several_in_order(STEPS, 3, 6).into_iter().enumerate() {
        let _ = writeln!(out, "{}. **{label}.** {}", i + 1, fill(sentence, topic));
    }
    out.push('\n');
    if let Some(language) = code {
        code_block(rng, language, out);
    }
    let tip = rng.pick(&[
        "*Tip:* write down what \"done\" means before you begin.",
        "*Tip:* if a step feels too big, split it in two.",
        "*Tip:* keep notes as you go; they make the last step much easier.",
    ]);
    let _ = writeln!(out, "{tip}");
}

fn rambling(rng: &mut Rng, topic: &str, out: &mut String) {
    let _ = write!(
        out,
        "{} ",
        fill(
            "Well, {t} is a really interesting topic and there are many things that could be said about it.",
            topic
        )
    );
    for sentence in rng.several(FILLER, 3, 6) {
        let _ = write!(out, "{} ", fill(sentence, topic));
    }
    if rng.chance(50) {
        let _ = write!(out, "{} ", fill(FILLER[rng.below(FILLER.len())], topic));
    }
    out.push_str(rng.pick(&[
        "Anyway, it depends.",
        "So yes, that is more or less it, I think.",
        "I hope this is somewhat useful.",
    ]));
}

fn code_block(rng: &mut Rng, language: &str, out: &mut String) {
    let body = match language {
        "rust" => rng.pick(&[
            "fn reverse(input: &str) -> String {\n    input.chars().rev().collect()\n}\n\nfn main() {\n    println!(\"{}\", reverse(\"hello\"));\n}",
            "fn process(items: &[i32]) -> Vec<i32> {\n    items.iter().filter(|&&x| x > 0).map(|x| x * 2).collect()\n}",
        ]),
        "javascript" => rng.pick(&[
            "function process(items) {\n  return items.filter((x) => x > 0).map((x) => x * 2);\n}\n\nconsole.log(process([3, -1, 4]));",
            "const reverse = (s) => [...s].reverse().join(\"\");\nconsole.log(reverse(\"hello\"));",
        ]),
        "sql" => rng.pick(&[
            "SELECT name, COUNT(*) AS total\nFROM orders\nGROUP BY name\nORDER BY total DESC\nLIMIT 10;",
            "SELECT *\nFROM users\nWHERE created_at >= DATE '2024-01-01';",
        ]),
        "bash" => rng.pick(&[
            "for file in *.txt; do\n  wc -l \"$file\"\ndone",
            "find . -name '*.log' -mtime +7 -print",
        ]),
        _ => rng.pick(&[
            "def process(items):\n    \"\"\"Keep the positive items, doubled.\"\"\"\n    return [x * 2 for x in items if x > 0]\n\nprint(process([3, -1, 4]))",
            "items = [5, 2, 9, 1]\nitems.sort()\nprint(items)  # [1, 2, 5, 9]",
            "def reverse(text):\n    return text[::-1]\n\nprint(reverse(\"hello\"))",
        ]),
    };
    let _ = writeln!(out, "```{language}\n{body}\n```\n");
}

const ASPECTS: &[(&str, &str)] = &[
    (
        "Start with the goal",
        "decide what a good outcome for {t} looks like before choosing a method.",
    ),
    (
        "Check your assumptions",
        "most surprises come from an assumption nobody wrote down.",
    ),
    (
        "Keep it simple",
        "the simplest approach that works is usually the easiest to maintain.",
    ),
    (
        "Measure",
        "compare options on a small, concrete example rather than by intuition.",
    ),
    (
        "Mind the edge cases",
        "empty inputs, very large inputs and unusual characters deserve a quick test.",
    ),
    (
        "Think about the reader",
        "whoever looks at your result later should understand it without asking you.",
    ),
    (
        "Iterate",
        "a rough first version you can improve beats a perfect plan you never start.",
    ),
    (
        "Know the trade-offs",
        "speed, clarity and cost pull in different directions; pick what matters most here.",
    ),
    (
        "Use good sources",
        "primary documentation and well-reviewed references beat hearsay.",
    ),
    (
        "Context matters",
        "the best answer for {t} depends on who it is for and how it will be used.",
    ),
];

const STEPS: &[(&str, &str)] = &[
    (
        "Understand the problem",
        "Restate {t} in your own words and note what is unclear.",
    ),
    (
        "Gather what you need",
        "Collect the facts, tools or data before you start.",
    ),
    (
        "Sketch a plan",
        "Outline the approach in a few lines; it is cheap to change now.",
    ),
    (
        "Do the smallest useful thing",
        "Build or write a first version that covers the main case.",
    ),
    (
        "Check the result",
        "Try it on a real example and compare with what you expected.",
    ),
    (
        "Handle the exceptions",
        "Look at the unusual cases and decide how each should behave.",
    ),
    (
        "Polish",
        "Remove what is unnecessary and make the rest easy to follow.",
    ),
    (
        "Share and ask for feedback",
        "A second pair of eyes catches what you no longer see.",
    ),
];

const SUPPORT: &[&str] = &[
    "Most people overthink this part.",
    "A quick experiment will tell you more than a long debate.",
    "If you need more detail, the official documentation is a good next stop.",
    "Keep an eye on edge cases, but do not let them block you.",
    "Clarity beats cleverness here.",
];

const FILLER: &[&str] = &[
    "Some people think one thing about {t} and other people think something else.",
    "It is important to consider all the different aspects and factors involved.",
    "There are advantages and disadvantages, as with most things in life.",
    "In many cases it really depends on the situation and the context.",
    "Of course, {t} can be quite complicated, or sometimes quite simple.",
    "Many experts have discussed this over the years in various ways.",
    "You might also want to think about related topics, which are also interesting.",
    "At the end of the day, what matters is what works for you.",
];

/// The subject of a prompt, for echoing: its first sentence without the
/// polite or interrogative lead-in, at most eight words, and without words
/// that would trip leak detection.
fn topic(prompt: &str) -> String {
    const LEAD_INS: &[&str] = &[
        "please",
        "can you",
        "could you",
        "would you",
        "tell me about",
        "tell me",
        "explain",
        "describe",
        "what is",
        "what are",
        "what's",
        "how do i",
        "how do you",
        "how can i",
        "how to",
        "why is",
        "why do",
        "why does",
        "write",
        "give me",
        "help me",
        "who is",
        "summarize",
        "i want to know about",
        "i need",
        "show me",
    ];
    let first = prompt
        .split(['.', '?', '!', '\n'])
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let mut rest = first.trim_matches(|c: char| !c.is_alphanumeric());
    'strip: loop {
        for lead in LEAD_INS {
            let matches = rest.len() > lead.len()
                && rest.is_char_boundary(lead.len())
                && rest[..lead.len()].eq_ignore_ascii_case(lead)
                && rest[lead.len()..].starts_with(' ');
            if matches {
                rest = rest[lead.len()..].trim_start();
                continue 'strip;
            }
        }
        break;
    }
    let words: Vec<&str> = rest
        .split_whitespace()
        .filter(|w| !is_name_like(w))
        .take(8)
        .collect();
    if words.is_empty() {
        "your question".to_owned()
    } else {
        words.join(" ").trim_end_matches([',', ';', ':']).to_owned()
    }
}

fn is_name_like(word: &str) -> bool {
    let bare = word
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    ["demo", "arena", "alpha", "beta", "gamma", "delta"].contains(&bare.as_str())
        || mentions_identity(word, &[])
}

/// The language of a code example, when the prompt asks about code.
fn code_language(prompt: &str) -> Option<&'static str> {
    let lower = prompt.to_lowercase();
    let has = |word: &str| {
        lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == word)
    };
    for (word, language) in [
        ("rust", "rust"),
        ("python", "python"),
        ("javascript", "javascript"),
        ("js", "javascript"),
        ("typescript", "javascript"),
        ("sql", "sql"),
        ("bash", "bash"),
        ("shell", "bash"),
    ] {
        if has(word) {
            return Some(language);
        }
    }
    let generic = [
        "code",
        "function",
        "program",
        "script",
        "algorithm",
        "implement",
        "regex",
    ];
    generic.iter().any(|w| has(w)).then_some("python")
}

/// Replaces `{t}` with the topic as it reads mid-sentence and `{T}` with
/// it capitalized.
fn fill(template: &str, topic: &str) -> String {
    let first_word = topic.split(' ').next().unwrap_or("");
    let mut chars = first_word.chars();
    let starts_capitalized = chars.next().is_some_and(char::is_uppercase)
        && chars.clone().next().is_some()
        && chars.all(char::is_lowercase);
    let mid_sentence = match topic.chars().next() {
        Some(c) if starts_capitalized => c.to_lowercase().chain(topic.chars().skip(1)).collect(),
        _ => topic.to_owned(),
    };
    let capitalized: String = match topic.chars().next() {
        Some(c) => c.to_uppercase().chain(topic.chars().skip(1)).collect(),
        None => String::new(),
    };
    template
        .replace("{T}", &capitalized)
        .replace("{t}", &mid_sentence)
}

/// FNV-1a: stable across Rust releases, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64: tiny and good enough to pick phrases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// Between `min` and `max` distinct items, in a seeded order.
    fn several<T: Copy>(&mut self, items: &[T], min: usize, max: usize) -> Vec<T> {
        let mut pool = items.to_vec();
        for i in (1..pool.len()).rev() {
            pool.swap(i, self.below(i + 1));
        }
        pool.truncate(min + self.below(max - min + 1));
        pool
    }

    /// Like [`Rng::several`], but in the order of `items` (steps of a recipe).
    fn several_in_order<T: Copy>(&mut self, items: &[T], min: usize, max: usize) -> Vec<T> {
        let indices: Vec<usize> = (0..items.len()).collect();
        let mut chosen = self.several(&indices, min, max);
        chosen.sort_unstable();
        chosen.into_iter().map(|i| items[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_drops_lead_ins_and_names() {
        let cases = [
            ("How do I sort a list in Python?", "sort a list in Python"),
            (
                "Please explain quantum computing. Thanks!",
                "quantum computing",
            ),
            ("Are you ChatGPT?", "Are you"),
            ("", "your question"),
            ("???", "your question"),
            (
                "Can you tell me about the history of the printing press and why it mattered",
                "the history of the printing press and why",
            ),
        ];
        for (prompt, expected) in cases {
            assert_eq!(topic(prompt), expected, "{prompt:?}");
        }
    }

    #[test]
    fn fill_adjusts_the_first_letter() {
        assert_eq!(
            fill("{T}. About {t}.", "Python lists"),
            "Python lists. About python lists."
        );
        assert_eq!(fill("About {t}.", "SQL joins"), "About SQL joins.");
        assert_eq!(fill("{T}!", "sorting"), "Sorting!");
    }

    #[test]
    fn code_is_detected_by_whole_words() {
        assert_eq!(code_language("a Rust function"), Some("rust"));
        assert_eq!(code_language("write some code"), Some("python"));
        assert_eq!(code_language("trust me"), None);
    }
}
