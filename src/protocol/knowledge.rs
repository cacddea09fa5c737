//! The knowledge console (`/api/knowledge/…`, support staff only): "try a question", the load
//! and quality findings, and the status of the served knowledge.

use serde::{Deserialize, Serialize};

use super::cli::ReplyPayload;

/// "Try a question": what the bot would answer and why, as `faqbot explain` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainWire {
    pub question: String,
    pub lang: String,
    pub lang_forced: bool,
    pub tokens: Vec<TokenWire>,
    /// The terms matched against the index (stems, `#concept`).
    pub terms: Vec<String>,
    /// Words known neither to the knowledge nor to the dictionary.
    pub unknown: Vec<String>,
    pub top: Vec<ScoredWire>,
    /// Why this decision.
    pub reason: String,
    pub reply: ReplyPayload,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenWire {
    pub word: String,
    pub corrected: Option<String>,
    pub stem: String,
    pub concept: Option<String>,
    pub stop: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredWire {
    pub id: String,
    /// `faq` or the intent's kind.
    pub kind: String,
    /// What the decision is taken on: the re-ranker's probability (or the lexical confidence
    /// for knowledge too small to train on).
    pub confidence: f32,
    /// The confidence from the lexical evidence alone.
    pub lexical: f32,
    pub coverage: f32,
    pub similarity: f32,
    pub recall: f32,
    pub evidence: f32,
    /// Cosines of the question's terms and character n-grams with the entry's phrasings.
    pub words: f32,
    pub chars: f32,
    /// Share of the entry's core terms the question lacks.
    pub core_missing: f32,
    /// The entry's share of the question's likelihood among the candidates (naive Bayes).
    pub bayes: f32,
}

impl ExplainWire {
    pub fn new(question: &str, e: &crate::matcher::Explanation) -> ExplainWire {
        ExplainWire {
            question: question.to_owned(),
            lang: e.lang.code().to_owned(),
            lang_forced: e.lang_forced,
            tokens: e
                .analysis
                .tokens
                .iter()
                .map(|t| TokenWire {
                    word: t.word.clone(),
                    corrected: t.corrected.clone(),
                    stem: t.stem.clone(),
                    concept: t.concept.clone(),
                    stop: t.stop,
                })
                .collect(),
            terms: e.terms.clone(),
            unknown: e.unknown.clone(),
            top: e
                .top
                .iter()
                .map(|(id, kind, s)| ScoredWire {
                    id: id.clone(),
                    kind: (*kind).to_owned(),
                    confidence: s.confidence,
                    lexical: s.lexical,
                    coverage: s.coverage,
                    similarity: s.similarity,
                    recall: s.recall,
                    evidence: s.evidence,
                    words: s.words,
                    chars: s.chars,
                    core_missing: s.core_missing,
                    bayes: s.bayes,
                })
                .collect(),
            reason: e.reason.clone(),
            reply: ReplyPayload::from(&e.reply),
        }
    }
}

/// One finding of `faqbot check` or of the console's check on save (a [`LoadError`]), as JSON:
/// `{"path":"faq/fr/cout.md","line":6,"severity":"warning","entry":"cout","message":"…"}`.
///
/// [`LoadError`]: crate::knowledge::LoadError
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingWire {
    pub path: String,
    pub line: Option<usize>,
    /// `error` (the reload is refused) or `warning` (served anyway).
    pub severity: String,
    pub entry: Option<String>,
    pub message: String,
}

impl From<&crate::knowledge::LoadError> for FindingWire {
    fn from(e: &crate::knowledge::LoadError) -> Self {
        FindingWire {
            // Lossy: a path that is not UTF-8 must not make the whole list unserializable.
            path: e.path.to_string_lossy().into_owned(),
            line: e.line,
            severity: e.severity.as_str().to_owned(),
            entry: e.entry.clone(),
            message: e.message.clone(),
        }
    }
}

/// The served knowledge, as the knowledge page shows it (`GET /api/knowledge`).
#[derive(Debug, Clone, Serialize)]
pub struct KnowledgeStatusWire {
    /// Goes up by one with every knowledge swapped in.
    pub version: u64,
    /// Milliseconds since the epoch.
    pub loaded_at: i64,
    /// What loaded it: `startup`, `files`, `signal` or `console`.
    pub trigger: &'static str,
    /// The support advisor who saved or reloaded, for `console`.
    pub by: Option<String>,
    pub entries: usize,
    pub intents: usize,
    /// Load findings: errors tolerated since startup (those files are left out) and warnings.
    pub problems: Vec<FindingWire>,
    /// The quality gates' findings; `null` while they are being computed.
    pub quality: Option<Vec<FindingWire>>,
    /// The last change refused (the previous knowledge kept serving), until one is taken.
    pub refused: Option<RefusalWire>,
    /// Whether file changes are picked up on their own.
    pub watching: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefusalWire {
    pub at: i64,
    pub trigger: &'static str,
    pub by: Option<String>,
    /// The errors that made the change unusable, each with its file and line.
    pub problems: Vec<FindingWire>,
}

fn trigger_wire(t: &crate::live::Trigger) -> (&'static str, Option<String>) {
    use crate::live::Trigger;
    match t {
        Trigger::Startup => ("startup", None),
        Trigger::Files => ("files", None),
        Trigger::Signal => ("signal", None),
        Trigger::Console { advisor } => ("console", Some(advisor.clone())),
    }
}

fn findings(list: &[crate::knowledge::LoadError]) -> Vec<FindingWire> {
    list.iter().map(FindingWire::from).collect()
}

impl From<&crate::live::Status> for KnowledgeStatusWire {
    fn from(s: &crate::live::Status) -> Self {
        let (trigger, by) = trigger_wire(&s.trigger);
        KnowledgeStatusWire {
            version: s.version,
            loaded_at: s.loaded_at,
            trigger,
            by,
            entries: s.entries,
            intents: s.intents,
            problems: findings(&s.problems),
            quality: s.quality.as_deref().map(findings),
            refused: s.refused.as_ref().map(|r| {
                let (trigger, by) = trigger_wire(&r.trigger);
                RefusalWire {
                    at: r.at,
                    trigger,
                    by,
                    problems: findings(&r.problems),
                }
            }),
            watching: s.watching,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::LoadError;

    #[test]
    fn a_finding_is_plain_json_with_its_severity() {
        let w = LoadError::warning(std::path::Path::new("faq/fr/cout.md"), Some(6), "few")
            .for_entry("cout");
        let json = serde_json::to_value(FindingWire::from(&w)).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"path": "faq/fr/cout.md", "line": 6, "severity": "warning", "entry": "cout", "message": "few"})
        );
    }
}
