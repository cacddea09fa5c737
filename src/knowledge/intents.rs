//! Intents (small talk, handoff, emergency, out of scope), synonym concepts and SMS spelling,
//! read from `intents/*.toml`. See `intents/README.md` for the format.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{line_at, line_of_key, list_files, one_line, read_text, Knowledge, LoadError};
use crate::text::Lang;

/// What the bot does when an intent is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentKind {
    /// Greeting, thanks, goodbye, who-are-you: a short reply from the intent's responses.
    Smalltalk,
    /// The visitor asks for a person: the chat is handed to an advisor.
    Handoff,
    /// Acute symptoms: the 112 message, before anything else.
    Emergency,
    /// A known out-of-scope topic: an honest "our article does not cover this".
    Fallback,
}

/// Fires an intent when every listed concept is in the question.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub all: Vec<String>,
    /// Fires only when the question holds nothing but the rule's concepts (and politeness):
    /// "agent" or "un humain svp" alone ask for one, "avez-vous des agents en France ?" does not.
    pub alone: bool,
    /// Where the rule is written, for messages.
    pub line: Option<usize>,
}

impl Rule {
    /// Whether every concept of the rule is among `concepts` (a rule naming none never fires).
    pub fn fires(&self, concepts: &[String]) -> bool {
        !self.all.is_empty() && self.all.iter().all(|c| concepts.contains(c))
    }
}

/// When an intent's rules stay silent: a concept of `any` is in the question, one of `with` too
/// (when it names any), and none of `except` is ("can cirrhosis cause bleeding?" asks about a
/// symptom; "my father is bleeding" has one). `with` says what the question is about: "est-ce
/// que la cirrhose fait très mal au ventre ?" asks about a disease, where "est-ce que c'est
/// grave, j'ai très mal au ventre" is someone in pain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Unless {
    pub any: Vec<String>,
    pub with: Vec<String>,
    pub except: Vec<String>,
    pub line: Option<usize>,
}

impl Unless {
    /// Whether the rules are held back for a question with these concepts.
    pub fn holds(&self, concepts: &[String]) -> bool {
        self.any.iter().any(|c| concepts.contains(c))
            && (self.with.is_empty() || self.with.iter().any(|c| concepts.contains(c)))
            && !self.except.iter().any(|c| concepts.contains(c))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub id: String,
    pub kind: IntentKind,
    /// Greeting/thanks/goodbye words are removed before matching the rest of a question.
    pub politeness: bool,
    /// A politeness intent that also answers a message saying what the thanks are for or what
    /// comes next, when it asks nothing ("merci pour les infos sur la cirrhose"): thanks,
    /// acknowledgements, goodbyes. Not greetings: what follows one is the reason for writing.
    pub closing: bool,
    /// A fallback whose rules answer at once, before any scoring, as emergency and handoff rules
    /// do: what the bot must never answer from the article (a diagnosis, a medication).
    pub firm: bool,
    /// An emergency intent whose 112 the learned urgency check may withhold (`urgency_check =
    /// false` in its file: never, as for "appelez une ambulance").
    pub urgency_check: bool,
    /// Concepts removed with a politeness intent's words, and only then: what people say around
    /// a thanks or a greeting ("pour votre aide", "tout le monde") means something on its own.
    /// On another small-talk intent, concepts its rules still fire beside ("c'est quoi" in
    /// "c'est quoi ton nom ?").
    pub along: Vec<String>,
    /// Line of `along`, for messages.
    pub along_line: Option<usize>,
    pub rules: Vec<Rule>,
    /// Each one alone holds the rules back (`[[unless]]`, or one `[unless]`).
    pub unless: Vec<Unless>,
    pub phrases: BTreeMap<Lang, Vec<String>>,
    pub responses: BTreeMap<Lang, Vec<String>>,
    pub path: PathBuf,
}

impl Intent {
    /// A response in `lang` (or French when missing), picked by `seed` so one question always
    /// gets the same variant.
    pub fn response(&self, lang: Lang, seed: u64) -> &str {
        let list = self
            .responses
            .get(&lang)
            .filter(|l| !l.is_empty())
            .or_else(|| self.responses.get(&Lang::Fr))
            .filter(|l| !l.is_empty());
        match list {
            Some(list) => &list[(seed % list.len() as u64) as usize],
            None => "",
        }
    }
}

/// One thing visitors name in many ways (`price`: prix, coût, tarif, cb, how much…).
#[derive(Debug, Clone, PartialEq)]
pub struct Concept {
    pub id: String,
    /// False for concepts that say what the visitor does (asks, wonders, speaks of a relative),
    /// not what about: rules use them, but they do not count when matching entries.
    pub topic: bool,
    /// Seen by the rules only: matching reads its words as if it were not there. For markers
    /// the rules need ("la semaine dernière", "juste pour savoir") whose words should keep
    /// their weight in matching: a concept word is otherwise no longer a matching term.
    pub rules_only: bool,
    /// A sign of an acute emergency ("vomit", "faint") or a word for "now": an answer to a
    /// question naming one ends with the safety line (call 112 if it is happening now), for
    /// the emergencies told in words no rule was written for.
    pub safety_line: bool,
    pub variants: BTreeMap<Lang, Vec<String>>,
}

/// Whole-word SMS rewrites per language (`koi` → `quoi`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spelling {
    pub rewrites: BTreeMap<Lang, HashMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    id: String,
    kind: IntentKind,
    #[serde(default)]
    politeness: bool,
    #[serde(default)]
    closing: bool,
    #[serde(default)]
    firm: bool,
    #[serde(default = "yes")]
    urgency_check: bool,
    #[serde(default)]
    along: Vec<String>,
    #[serde(default)]
    rules: Vec<RuleFile>,
    #[serde(default)]
    unless: Option<OneOrMany<UnlessFile>>,
    #[serde(default)]
    fr: Option<LangBlock>,
    #[serde(default)]
    en: Option<LangBlock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    all: Vec<String>,
    #[serde(default)]
    alone: bool,
}

/// `[unless]` (one table) or `[[unless]]` (several).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlessFile {
    any: Vec<String>,
    #[serde(default)]
    with: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LangBlock {
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    responses: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SynonymsFile {
    #[serde(default)]
    concept: Vec<ConceptFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConceptFile {
    id: String,
    #[serde(default = "yes")]
    topic: bool,
    #[serde(default)]
    rules_only: bool,
    #[serde(default)]
    safety_line: bool,
    #[serde(default)]
    fr: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpellingFile {
    #[serde(default)]
    fr: HashMap<String, String>,
    #[serde(default)]
    en: HashMap<String, String>,
}

pub(super) fn read_dir(dir: &Path, knowledge: &mut Knowledge, errors: &mut Vec<LoadError>) {
    for path in list_files(dir, "toml", errors) {
        let text = match read_text(&path) {
            Ok(text) => text,
            Err(err) => {
                errors.push(err);
                continue;
            }
        };
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let result = match name {
            "synonyms" => parse_synonyms(&path, &text).map(|c| {
                errors.extend(shared_variants(&path, &text, &c));
                knowledge.concepts.extend(c)
            }),
            "spelling" => parse_spelling(&path, &text).map(|s| knowledge.spelling = s),
            _ => parse_intent(&path, &text).map(|i| knowledge.intents.push(i)),
        };
        if let Err(mut errs) = result {
            errors.append(&mut errs);
        }
    }
}

fn toml_error(path: &Path, text: &str, err: toml::de::Error, what: &str) -> Vec<LoadError> {
    let line = err.span().map(|s| line_at(text, s.start));
    vec![LoadError::new(
        path,
        line,
        format!("{}: {what}", one_line(err.message())),
    )]
}

fn parse_intent(path: &Path, text: &str) -> Result<Intent, Vec<LoadError>> {
    let file: IntentFile = toml::from_str(text)
        .map_err(|e| toml_error(path, text, e, "see intents/README.md for the intent format"))?;
    let mut errors = Vec::new();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if file.id != stem {
        errors.push(LoadError::new(
            path,
            line_of_key(text, "id"),
            format!(
                "id `{}` differs from the file name `{stem}.toml`: rename the file or fix the id",
                file.id
            ),
        ));
    }
    if file.closing && !file.politeness {
        errors.push(LoadError::new(
            path,
            line_of_key(text, "closing"),
            "`closing = true` is for politeness intents (thanks, goodbye): add \
             `politeness = true` or remove `closing`",
        ));
    }
    let mut phrases = BTreeMap::new();
    let mut responses = BTreeMap::new();
    for (lang, block) in [(Lang::Fr, file.fr), (Lang::En, file.en)] {
        let block = block.unwrap_or_default();
        let clean = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let block_responses = clean(block.responses);
        if block_responses.is_empty() {
            errors.push(LoadError::new(
                path,
                None,
                format!(
                    "no responses in [{lang}]: add `responses = [\"…\"]` under a `[{lang}]` line"
                ),
            ));
        }
        if file.kind == IntentKind::Emergency {
            for r in &block_responses {
                if !r.contains("112") {
                    errors.push(LoadError::new(
                        path,
                        text.find(r.as_str()).map(|o| line_at(text, o)),
                        "every emergency response must tell the visitor to call 112: add it",
                    ));
                }
            }
        }
        phrases.insert(lang, clean(block.phrases));
        responses.insert(lang, block_responses);
    }
    let rule_lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[rules]]")
        .map(|(i, _)| i + 1)
        .collect();
    let rules = file
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| Rule {
            all: r.all,
            alone: r.alone,
            line: rule_lines.get(i).copied(),
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let unless_lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| matches!(l.trim(), "[unless]" | "[[unless]]"))
        .map(|(i, _)| i + 1)
        .collect();
    let unless = match file.unless {
        None => Vec::new(),
        Some(OneOrMany::One(u)) => vec![u],
        Some(OneOrMany::Many(us)) => us,
    }
    .into_iter()
    .enumerate()
    .map(|(i, u)| Unless {
        any: u.any,
        with: u.with,
        except: u.except,
        line: unless_lines.get(i).copied(),
    })
    .collect();
    Ok(Intent {
        id: file.id,
        kind: file.kind,
        politeness: file.politeness,
        closing: file.closing,
        firm: file.firm,
        urgency_check: file.urgency_check,
        along: file.along,
        along_line: text
            .lines()
            .position(|l| l.trim_start().starts_with("along"))
            .map(|i| i + 1),
        rules,
        unless,
        phrases,
        responses,
        path: path.to_path_buf(),
    })
}

fn parse_synonyms(path: &Path, text: &str) -> Result<Vec<Concept>, Vec<LoadError>> {
    let file: SynonymsFile = toml::from_str(text).map_err(|e| {
        toml_error(
            path,
            text,
            e,
            "see intents/README.md for the synonyms format",
        )
    })?;
    let mut errors = Vec::new();
    let mut seen = HashMap::new();
    let mut concepts = Vec::new();
    for c in file.concept {
        let line = text
            .find(&format!("\"{}\"", c.id))
            .map(|o| line_at(text, o));
        if c.id.is_empty()
            || !c
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            errors.push(LoadError::new(
                path,
                line,
                format!(
                    "concept id `{}` must be lowercase letters, digits and `_`",
                    c.id
                ),
            ));
            continue;
        }
        if seen.insert(c.id.clone(), ()).is_some() {
            errors.push(LoadError::new(
                path,
                line,
                format!("concept `{}` is defined twice: merge the two lists", c.id),
            ));
            continue;
        }
        let mut variants = BTreeMap::new();
        variants.insert(Lang::Fr, c.fr);
        variants.insert(Lang::En, c.en);
        concepts.push(Concept {
            id: c.id,
            topic: c.topic,
            rules_only: c.rules_only,
            safety_line: c.safety_line,
            variants,
        });
    }
    if errors.is_empty() {
        Ok(concepts)
    } else {
        Err(errors)
    }
}

/// A variant listed in two concepts (after folding case and accents): only the first would ever
/// be found, or, worse, the author meant both. A warning naming both, on the second's line.
fn shared_variants(path: &Path, text: &str, concepts: &[Concept]) -> Vec<LoadError> {
    let mut first: HashMap<(Lang, String), &str> = HashMap::new();
    let mut warnings = Vec::new();
    for c in concepts {
        for (lang, variants) in &c.variants {
            for v in variants {
                let key = (*lang, crate::text::fold(v));
                match first.get(&key) {
                    Some(other) if *other != c.id => {
                        let line = text
                            .find(&format!("id = \"{}\"", c.id))
                            .map(|o| line_at(text, o));
                        warnings.push(LoadError::warning(
                            path,
                            line,
                            format!(
                                "\"{v}\" ([{lang}]) is in concepts `{other}` and `{}`: keep it in \
                                 one (a word in two concepts only ever finds the first)",
                                c.id
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        first.insert(key, &c.id);
                    }
                }
            }
        }
    }
    warnings
}

fn yes() -> bool {
    true
}

fn parse_spelling(path: &Path, text: &str) -> Result<Spelling, Vec<LoadError>> {
    let file: SpellingFile = toml::from_str(text).map_err(|e| {
        toml_error(
            path,
            text,
            e,
            "write `[fr]` then lines like `koi = \"quoi\"`",
        )
    })?;
    let mut rewrites = BTreeMap::new();
    rewrites.insert(Lang::Fr, file.fr);
    rewrites.insert(Lang::En, file.en);
    Ok(Spelling { rewrites })
}

#[cfg(test)]
mod tests {
    //! The intent file's optional parts: one `[unless]` or several, `firm`, `along`.
    use std::path::Path;

    use super::parse_intent;

    const BLOCKS: &str = "[fr]\nphrases = [\"x\"]\nresponses = [\"Appelez le 112.\"]\n\
                          [en]\nphrases = [\"x\"]\nresponses = [\"Call 112.\"]\n";

    #[test]
    fn unless_is_one_table_or_several() {
        let one = format!(
            "id = \"e\"\nkind = \"emergency\"\n[[rules]]\nall = [\"vomit\"]\n\
             [unless]\nany = [\"past\"]\n{BLOCKS}"
        );
        let intent = parse_intent(Path::new("e.toml"), &one).expect("parses");
        assert_eq!(intent.unless.len(), 1);
        assert_eq!(intent.unless[0].line, Some(5));
        let two = format!(
            "id = \"e\"\nkind = \"emergency\"\n[[rules]]\nall = [\"vomit\"]\n\
             [[unless]]\nany = [\"about\"]\nexcept = [\"now\"]\n[[unless]]\nany = [\"past\"]\n{BLOCKS}"
        );
        let intent = parse_intent(Path::new("e.toml"), &two).expect("parses");
        let lines: Vec<_> = intent.unless.iter().map(|u| u.line).collect();
        assert_eq!(lines, [Some(5), Some(8)]);
        assert!(intent.unless[1].holds(&["past".to_owned()]));
        assert!(!intent.unless[0].holds(&["about".to_owned(), "now".to_owned()]));
        let with = format!(
            "id = \"e\"\nkind = \"emergency\"\n[[rules]]\nall = [\"pain\"]\n\
             [unless]\nany = [\"asks\"]\nwith = [\"cirrhosis\"]\nexcept = [\"now\"]\n{BLOCKS}"
        );
        let intent = parse_intent(Path::new("e.toml"), &with).expect("parses");
        let holds = |cs: &[&str]| {
            let cs: Vec<String> = cs.iter().map(|c| (*c).to_owned()).collect();
            intent.unless[0].holds(&cs)
        };
        assert!(holds(&["asks", "cirrhosis", "pain"]));
        assert!(!holds(&["asks", "pain"]), "`with` is required when named");
        assert!(!holds(&["asks", "cirrhosis", "now"]));
    }

    #[test]
    fn firm_and_along_are_read() {
        let text = format!(
            "id = \"t\"\nkind = \"smalltalk\"\npoliteness = true\nalong = [\"courtesy\"]\n{BLOCKS}"
        );
        let intent = parse_intent(Path::new("t.toml"), &text).expect("parses");
        assert_eq!(intent.along, ["courtesy"]);
        assert_eq!(intent.along_line, Some(4));
        assert!(!intent.firm);
        assert!(!intent.closing);
        let text = format!("id = \"d\"\nkind = \"fallback\"\nfirm = true\n{BLOCKS}");
        assert!(
            parse_intent(Path::new("d.toml"), &text)
                .expect("parses")
                .firm
        );
    }

    #[test]
    fn closing_needs_politeness() {
        let text = format!(
            "id = \"t\"\nkind = \"smalltalk\"\npoliteness = true\nclosing = true\n{BLOCKS}"
        );
        assert!(
            parse_intent(Path::new("t.toml"), &text)
                .expect("parses")
                .closing
        );
        let text = format!("id = \"t\"\nkind = \"smalltalk\"\nclosing = true\n{BLOCKS}");
        let errors = parse_intent(Path::new("t.toml"), &text).expect_err("refused");
        assert_eq!(errors[0].line, Some(3), "{errors:?}");
        assert!(
            errors[0].message.contains("politeness = true"),
            "{errors:?}"
        );
    }
}
