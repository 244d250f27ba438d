//! What a request asks the mock to do, read from its `model` string.

use std::time::Duration;

/// The parsed `model` string: `+`-separated parts, each `name` or
/// `name:argument`. Unknown parts (such as `echo` or `tag:anything`, handy
/// to get separate counters per test) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Behaviour {
    pub slow_first_token: Duration,
    pub pace: Duration,
    pub status: Option<u16>,
    pub flaky: u64,
    pub cut_after: Option<usize>,
    pub malformed_after: Option<usize>,
    pub hang: bool,
    pub keepalive: bool,
    pub leak: bool,
    pub long: Option<usize>,
    pub nostream: bool,
    pub inspect: bool,
}

impl Behaviour {
    pub(crate) fn parse(model: &str) -> Self {
        let mut b = Behaviour::default();
        for part in model.split('+') {
            let (name, arg) = part.split_once(':').unwrap_or((part, ""));
            let number = arg.trim().parse::<u64>().ok();
            let millis = || Duration::from_millis(number.unwrap_or(0));
            let count = || number.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
            match name.trim() {
                "slow-first-token" => b.slow_first_token = millis(),
                "pace" => b.pace = millis(),
                "status" => b.status = number.and_then(|n| u16::try_from(n).ok()),
                "flaky" => b.flaky = number.unwrap_or(1),
                "cut" => b.cut_after = count(),
                "malformed" => b.malformed_after = count(),
                "hang" => b.hang = true,
                "keepalive" => b.keepalive = true,
                "leak" => b.leak = true,
                "long" => b.long = count(),
                "nostream" => b.nostream = true,
                "inspect" => b.inspect = true,
                _ => {}
            }
        }
        b
    }
}

/// The modes listed by `GET /v1/models`.
pub(crate) const MODES: &[&str] = &[
    "echo",
    "slow-first-token:2000",
    "pace:50",
    "status:429",
    "status:500",
    "flaky:2",
    "cut:5",
    "malformed:3",
    "hang",
    "keepalive",
    "leak",
    "long:1000",
    "nostream",
    "inspect",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combinations_and_ignores_unknown_parts() {
        let b = Behaviour::parse("echo+pace:20+cut:5+tag:abc");
        assert_eq!(b.pace, Duration::from_millis(20));
        assert_eq!(b.cut_after, Some(5));
        assert!(!b.hang);
        assert_eq!(Behaviour::parse("status:429").status, Some(429));
        assert_eq!(Behaviour::parse("whatever"), Behaviour::default());
        assert_eq!(Behaviour::parse("flaky").flaky, 1);
    }
}
