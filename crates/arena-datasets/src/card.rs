//! Dataset cards: a Markdown README to ship next to an export, in the
//! spirit of Hugging Face dataset cards.

use std::fmt::Write as _;

use crate::timestamp::utc_datetime;
use crate::{Format, columns};

/// What an export contains, for humans. Build it with
/// [`BattleWriter::card`](crate::BattleWriter::card) or by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetCard {
    /// The file format.
    pub format: Format,
    /// Number of rows.
    pub rows: u64,
    /// Earliest `tstamp`, Unix seconds.
    pub first_tstamp: Option<f64>,
    /// Latest `tstamp`, Unix seconds.
    pub last_tstamp: Option<f64>,
    /// Whether the conversation columns are included.
    pub conversations: bool,
    /// Every column, in file order.
    pub columns: Vec<String>,
    /// When the export was made (RFC 3339 recommended).
    pub generated_at: String,
    /// Where the rows come from (server URL, database, input file).
    pub source: String,
}

impl DatasetCard {
    /// The card as Markdown: summary, schema of every column, licence note
    /// and how to load the file with pandas, arena-rank and `arena`.
    pub fn to_markdown(&self) -> String {
        let mut md = String::with_capacity(4096);
        let file = format!("votes.{}", self.format.extension());
        let _ = writeln!(md, "# Arena votes\n");
        let _ = writeln!(
            md,
            "Blind pairwise votes between language models: each row is one battle in which a \
             voter saw two anonymous answers to the same prompt and picked the better one.\n"
        );
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| Source | {} |", cell(&self.source));
        let _ = writeln!(md, "| Generated at | {} |", cell(&self.generated_at));
        let _ = writeln!(md, "| Format | {} |", format_label(self.format));
        let _ = writeln!(md, "| Rows | {} |", group_thousands(self.rows));
        let span = match (self.first_tstamp, self.last_tstamp) {
            (Some(first), Some(last)) => format!(
                "{} to {} (Unix {first} to {last})",
                utc_datetime(first),
                utc_datetime(last)
            ),
            _ => "unknown (no `tstamp`)".to_owned(),
        };
        let _ = writeln!(md, "| Time span | {span} |");
        let conversations = if self.conversations {
            "included"
        } else {
            "not included"
        };
        let _ = writeln!(md, "| Conversations | {conversations} |\n");

        let _ = writeln!(md, "## Columns\n");
        let _ = writeln!(md, "| Column | Type | Description |\n|---|---|---|");
        for name in &self.columns {
            let (kind, description) = describe(name, self.format);
            let _ = writeln!(md, "| `{}` | {kind} | {description} |", cell(name));
        }
        let _ = writeln!(md);

        let _ = writeln!(md, "## Licence and terms\n");
        let _ = writeln!(
            md,
            "The votes are contributions of this arena's users, published for research on \
             model evaluation. The model outputs in `conversation_a` and `conversation_b` \
             were produced by third-party models and remain subject to each provider's terms \
             of use; check them before training on or redistributing those texts. Voters are \
             identified only by `judge`, a salted hash: do not try to re-identify them.\n"
        );

        let _ = writeln!(md, "## Loading\n");
        let _ = writeln!(
            md,
            "With pandas:\n\n```python\nimport json\nimport pandas as pd\n"
        );
        let read = match self.format {
            Format::Jsonl => format!("df = pd.read_json(\"{file}\", lines=True)"),
            Format::Csv => format!("df = pd.read_csv(\"{file}\")"),
            Format::Parquet => format!("df = pd.read_parquet(\"{file}\")"),
            Format::FastChatJson => format!("df = pd.read_json(\"{file}\")"),
        };
        let _ = writeln!(md, "{read}");
        if self.conversations && matches!(self.format, Format::Csv | Format::Parquet) {
            let _ = writeln!(
                md,
                "for side in (\"conversation_a\", \"conversation_b\"):\n    \
                 df[side] = df[side].map(lambda text: json.loads(text) if isinstance(text, str) else None)"
            );
        }
        let _ = writeln!(md, "```\n");
        let _ = writeln!(
            md,
            "With [arena-rank](https://pypi.org/project/arena-rank/), from that DataFrame:\n\n\
             ```python\n\
             from arena_rank.utils.data_utils import PairDataset\n\
             from arena_rank.models.bradley_terry import BradleyTerry\n\n\
             dataset = PairDataset.from_pandas(df[[\"model_a\", \"model_b\", \"winner\"]])\n\
             model = BradleyTerry(n_competitors=len(dataset.competitors))\n\
             results = model.compute_ratings_and_cis(dataset, significance_level=0.05)\n\
             ```\n"
        );
        let _ = writeln!(
            md,
            "With Arena itself:\n\n```sh\narena leaderboard --input {file}\narena import {file}\n```"
        );
        md
    }
}

fn format_label(format: Format) -> &'static str {
    match format {
        Format::Jsonl => "JSON Lines (`.jsonl`), one object per line",
        Format::Csv => "CSV (`.csv`) with a header row",
        Format::Parquet => "Apache Parquet (`.parquet`), zstd-compressed",
        Format::FastChatJson => "JSON array (`.json`), FastChat style",
    }
}

/// Type and meaning of a column, for the schema table.
fn describe(name: &str, format: Format) -> (&'static str, String) {
    let conversation = match format {
        Format::Csv | Format::Parquet => "text (JSON)",
        Format::Jsonl | Format::FastChatJson => "list of {role, content}",
    };
    let (kind, description) = match name {
        columns::QUESTION_ID => ("text", "Stable identifier of the battle."),
        columns::MODEL_A => ("text", "Model shown on side A."),
        columns::MODEL_B => ("text", "Model shown on side B."),
        columns::WINNER => (
            "text",
            "The vote: `model_a`, `model_b`, `tie` or `both_bad` (a tie where both answers were bad).",
        ),
        columns::JUDGE => (
            "text, nullable",
            "The voter, as a salted hash; stable within this export.",
        ),
        columns::TURN => ("integer", "Number of user turns before the vote."),
        columns::ANONY => (
            "boolean",
            "Whether model names were hidden when the vote was cast.",
        ),
        columns::TSTAMP => (
            "float, nullable",
            "When the vote was cast, in Unix seconds (UTC).",
        ),
        columns::CONVERSATION_A => (
            conversation,
            "Side A's conversation: a list of `{\"role\", \"content\"}` messages.",
        ),
        columns::CONVERSATION_B => (
            conversation,
            "Side B's conversation: a list of `{\"role\", \"content\"}` messages.",
        ),
        columns::LANGUAGE => ("text, nullable", "Language of the conversation."),
        _ => (
            "any, nullable",
            "Extra column: a boolean category flag (usable with `arena leaderboard --category`) \
             or a research value.",
        ),
    };
    (kind, description.to_owned())
}

/// Escapes the characters that would break a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn describes_every_column_and_the_licence() {
        let card = DatasetCard {
            format: Format::Parquet,
            rows: 1500,
            first_tstamp: Some(1_700_000_000.0),
            last_tstamp: Some(1_700_086_400.0),
            conversations: true,
            columns: crate::WriteOptions {
                conversations: true,
                extra_columns: vec!["is_code".into()],
            }
            .columns(),
            generated_at: "2024-01-01T00:00:00Z".into(),
            source: "https://arena.example".into(),
        };
        let md = card.to_markdown();
        for column in &card.columns {
            assert!(md.contains(&format!("| `{column}` |")), "{column}");
        }
        assert!(md.contains("| Rows | 1,500 |"));
        assert!(md.contains("2023-11-14 22:13:20 UTC"));
        assert!(md.contains("each provider's terms"));
        assert!(md.contains("pd.read_parquet(\"votes.parquet\")"));
        assert!(md.contains("PairDataset.from_pandas"));
    }
}
