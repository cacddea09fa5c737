//! Matching a visitor's question to an FAQ entry or an intent, and the decision: answer,
//! clarify, fallback, small talk, handoff or emergency. Pure: no I/O, no async, cannot fail.
//!
//! Order of decisions: emergency rules first (they beat everything; the urgency check may
//! withhold their 112, or send one where a warning sign is named and none fired), then requests
//! for a person, then greetings alone; everything else is scored against the index and answered only
//! when the best candidate is both confident and clearly ahead of the next one.

mod analyze;
pub mod gates;
mod index;
mod messages;
mod rerank;
mod rules;
mod score;
mod urgency;

use std::sync::Arc;

pub use analyze::{Analysis, Token};
pub use gates::{check_edit, check_entry, gates, GateOptions};
pub use rerank::{Calibration, Thresholds, FEATURE_NAMES};
pub use score::Scored;
use urgency::Rules;
pub use urgency::UrgencyStats;

use crate::knowledge::{Intent, IntentKind, Knowledge, Rule};
use crate::text::{self, Lang};
use index::{LangIndex, Target};
use rerank::Band;
use rules::ConceptSet;
use score::Query;

/// What kind of reply the bot gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// An answer from one FAQ entry.
    Answer,
    /// Not sure between a few entries: "did you mean…" with suggestions.
    Clarify,
    /// Nothing good: say so and offer an advisor.
    Fallback,
    Smalltalk,
    /// The visitor asked for a person.
    Handoff,
    /// Acute symptoms: call 112 now.
    Emergency,
}

impl ReplyKind {
    /// Every kind, in declaration order.
    pub const ALL: [ReplyKind; 6] = [
        ReplyKind::Answer,
        ReplyKind::Clarify,
        ReplyKind::Fallback,
        ReplyKind::Smalltalk,
        ReplyKind::Handoff,
        ReplyKind::Emergency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplyKind::Answer => "answer",
            ReplyKind::Clarify => "clarify",
            ReplyKind::Fallback => "fallback",
            ReplyKind::Smalltalk => "smalltalk",
            ReplyKind::Handoff => "handoff",
            ReplyKind::Emergency => "emergency",
        }
    }
}

/// A question the visitor can pick (clarify) or follow up with (after an answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub faq_id: String,
    pub question: String,
}

/// One of the best candidates, for advisors (handoff card) and authors (missed questions).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The FAQ id, or the intent id for an intent.
    pub id: String,
    pub is_intent: bool,
    pub question: String,
    pub confidence: f32,
}

/// The bot's reply to one question.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub kind: ReplyKind,
    pub text: String,
    pub faq_id: Option<String>,
    pub intent: Option<String>,
    /// 0..1: how sure the bot is of this reply.
    pub confidence: f32,
    pub suggestions: Vec<Suggestion>,
    /// The article section an answer comes from.
    pub source: Option<String>,
    /// The language the reply is written in (the visitor's).
    pub lang: Lang,
    /// The best candidates considered, best first (at most 3).
    pub candidates: Vec<Candidate>,
}

#[cfg(test)]
impl Reply {
    /// A French reply of `kind` from `faq_id` at `confidence`, for tests of what follows a reply.
    pub(crate) fn stub(kind: ReplyKind, faq_id: Option<&str>, confidence: f32) -> Reply {
        Reply {
            kind,
            text: format!("{kind:?}"),
            faq_id: faq_id.map(str::to_owned),
            intent: None,
            confidence,
            suggestions: Vec::new(),
            source: None,
            lang: Lang::Fr,
            candidates: Vec::new(),
        }
    }
}

/// Why a decision was taken, with everything that led to it (`faqbot explain`).
#[derive(Debug, Clone)]
pub struct Explanation {
    pub lang: Lang,
    pub lang_forced: bool,
    pub analysis: Analysis,
    /// The terms that were matched (greeting words removed).
    pub terms: Vec<String>,
    pub unknown: Vec<String>,
    /// Top 5 candidates: (id, kind label, scores).
    pub top: Vec<(String, &'static str, Scored)>,
    /// The thresholds the decision was taken with.
    pub thresholds: Thresholds,
    /// Whether `confidence` is the learned re-ranker's (else the lexical, for tiny knowledge).
    pub learned: bool,
    pub reason: String,
    pub reply: Reply,
}

/// After these the urgency check never withholds a 112: it is happening now (unless the message
/// tells a past that is over: "last year…, I'm in therapy now and doing well"), or someone has
/// the sign (derived by `analyze`) and nothing says it is over, usual, a thing's, or not meant.
const SIGN_NOW: &str = "sign_now";
const HAS_SIGN: &str = "has_sign";
/// A past told, and told as over: together, the "now" of the message is the recovery's.
const PAST: [&str; 2] = ["past", "history"];
const RECOVERED: [&str; 3] = ["recovered", "well_now", "reassured"];
/// Concepts that say a sign someone has is over or usual for them ("tout va bien", "comme à
/// chaque fois", their doctor knows), a thing's, a figure of speech or a laugh, said in
/// general, in a book or a film, asked by a professional or a student, dreamt, or a risk asked
/// about (a past, [`PAST`], defuses too): beside one, `has_sign` no longer keeps the check from
/// withholding, and the check, which reads the whole message, decides. A sign now still keeps
/// the 112.
const DEFUSED_BY: [&str; 15] = [
    "recovered",
    "well_now",
    "habitual",
    "thing_subject",
    "figurative",
    "in_general",
    "media",
    "professional",
    "works_in_emergency",
    "just_asking",
    "dream",
    "safety",
    "their_doctor",
    "weeks_ago",
    "laughing",
];

/// Concepts after which the urgency check never sends a 112 no rule sent: the sign is an
/// animal's, or only supposed ("si je vomis du sang"). The rules' exceptions say so; the model,
/// which reads words and not who has the sign, would not.
const NEVER_ALARMED: [&str; 2] = [analyze::ANIMAL_SIGN, analyze::IF_SIGN];
/// The fewest words a message needs for the urgency check to send a 112 no rule sent. It
/// learned from messages that tell a situation; on a few words its reading rests on one or two
/// letter groups ("mon mari vient de vomir" 0.999, "il n'a jamais vomi de sang" 0.90), while the
/// emergencies it catches that the rules miss run to 12 words and more (cross-validation).
const ALARM_MIN_WORDS: usize = 10;

/// Concepts that say which part of a message is the question (see [`Matcher::focus`]).
const FOCUS: &str = "focus";
const DISMISS: &str = "dismiss";
/// Concepts that ask for something whatever the punctuation: "je voudrais savoir", "svp".
const ASKING: [&str; 6] = [
    "request",
    "wonder",
    "please",
    "asks_whether",
    "focus",
    "is_there",
];

/// One question as the decision sees it: the whole message's analysis (rules), the terms of
/// the part asked and the scored candidates.
#[derive(Clone, Copy)]
struct Asked<'a> {
    question: &'a str,
    lang: Lang,
    index: &'a LangIndex,
    analysis: &'a Analysis,
    terms: &'a [String],
    top: &'a [Scored],
}

/// The matcher over one knowledge snapshot. Cheap to share (`Arc`), immutable after `new`.
pub struct Matcher {
    knowledge: Arc<Knowledge>,
    fr: LangIndex,
    en: LangIndex,
    /// The terms of greeting, thanks and goodbye concepts (`#hello`…), stripped from questions.
    polite: Vec<String>,
    /// The terms of their `along` concepts (`#courtesy`), stripped only with one of those.
    along: Vec<String>,
    /// The concepts after which an answer ends with the safety line (`safety_line = true`),
    /// sorted: warning signs, "now", "suddenly".
    safety_concepts: Vec<String>,
    /// Those that are a sign an emergency rule names (not "now", "suddenly"), sorted: the
    /// urgency check may send a 112 no rule sent only to a message that names one.
    warning_signs: Vec<String>,
    rules: rules::RuleBook,
    /// The learned check on the emergency rules (None without urgency examples).
    urgency: Option<urgency::UrgencyCheck>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("entries", &self.knowledge.entries.len())
            .field("intents", &self.knowledge.intents.len())
            .finish()
    }
}

impl Matcher {
    /// Builds the index. All the work happens here, once per load.
    pub fn new(knowledge: Arc<Knowledge>) -> Matcher {
        // The two languages share nothing: index them side by side (a reload's wall time).
        let (fr, en) = std::thread::scope(|scope| {
            let en = scope.spawn(|| LangIndex::build(&knowledge, Lang::En));
            let fr = LangIndex::build(&knowledge, Lang::Fr);
            // A panic while indexing is a bug: re-raise it here rather than serve half an index.
            let en = en.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (fr, en)
        });
        let mut polite: Vec<String> = knowledge
            .intents
            .iter()
            .filter(|i| i.politeness)
            .flat_map(|i| i.rules.iter().flat_map(|r| r.all.iter()))
            .map(|c| format!("{}{c}", analyze::CONCEPT_PREFIX))
            .collect();
        polite.sort();
        polite.dedup();
        let mut along: Vec<String> = knowledge
            .intents
            .iter()
            .filter(|i| i.politeness)
            .flat_map(|i| i.along.iter())
            .map(|c| format!("{}{c}", analyze::CONCEPT_PREFIX))
            .collect();
        along.sort();
        along.dedup();
        let mut safety_concepts: Vec<String> = knowledge
            .concepts
            .iter()
            .filter(|c| c.safety_line)
            .map(|c| c.id.clone())
            .collect();
        safety_concepts.sort();
        let warning_signs = safety_concepts
            .iter()
            .filter(|c| fr.analyzer.is_sign(c))
            .cloned()
            .collect();
        let mut matcher = Matcher {
            safety_concepts,
            warning_signs,
            rules: rules::RuleBook::new(&knowledge.intents),
            knowledge,
            fr,
            en,
            polite,
            along,
            urgency: None,
        };
        // The threshold depends on which examples the rules fire on: asked before the check
        // exists, so every rule's 112 is still sent.
        matcher.urgency = urgency::UrgencyCheck::new(&matcher.knowledge.urgency, |text| {
            matcher.emergency_rules(text)
        });
        matcher
    }

    /// The urgency check's two thresholds (below which a rule's 112 is withheld, above which
    /// the alarm sends one no rule sent) and what cross-validation measured at them (None
    /// without urgency examples on both sides). Asks the rules of every example: for `faqbot
    /// calibrate`, not for each reply.
    pub fn urgency_report(&self) -> Option<(f32, f32, UrgencyStats)> {
        let u = self.urgency.as_ref()?;
        let stats = u.stats(&self.knowledge.urgency, |text| self.emergency_rules(text));
        Some((u.threshold, u.alarm, stats))
    }

    /// The re-ranker of `lang`: its thresholds and what cross-validation over the phrasings
    /// measured (None when the knowledge was too small to train on).
    pub fn calibration(&self, lang: Lang) -> (Thresholds, Option<Calibration>) {
        let r = &self.index(lang).reranker;
        (
            r.thresholds(),
            r.model.as_ref().map(|m| m.calibration.clone()),
        )
    }

    /// The learned weights of `lang`'s re-ranker (on standardised features), by feature name.
    pub fn weights(&self, lang: Lang) -> Option<Vec<(&'static str, f32)>> {
        let m = self.index(lang).reranker.model.as_ref()?;
        Some(FEATURE_NAMES.iter().copied().zip(m.weights).collect())
    }

    pub fn knowledge(&self) -> &Arc<Knowledge> {
        &self.knowledge
    }

    fn index(&self, lang: Lang) -> &LangIndex {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }

    /// The bot's reply to a question. `lang` forces the language; otherwise it is detected.
    pub fn reply(&self, question: &str, lang: Option<Lang>) -> Reply {
        self.explain(question, lang).reply
    }

    /// [`Matcher::reply`] and the question's [`Matcher::terms`] from one analysis: a missed
    /// question keeps its terms, which cost a second analysis when asked for apart.
    pub fn reply_with_terms(&self, question: &str) -> (Reply, Vec<String>) {
        let explained = self.explain(question, None);
        let terms = self.strip_politeness(&explained.analysis);
        (explained.reply, terms)
    }

    /// The answer of one entry, as when a visitor picks a suggestion.
    pub fn answer_entry(&self, faq_id: &str, lang: Lang) -> Option<Reply> {
        let idx = self
            .knowledge
            .entries
            .iter()
            .position(|e| e.id == faq_id && e.lang == lang)
            .or_else(|| self.knowledge.entries.iter().position(|e| e.id == faq_id))?;
        Some(self.entry_reply(idx, 1.0, Vec::new()))
    }

    /// The decision with its reasons: tokens, corrections, concepts, top candidates.
    pub fn explain(&self, question: &str, forced: Option<Lang>) -> Explanation {
        let (lang, analysis) = self.analysed(question, forced);
        self.decide(question, lang, forced.is_some(), analysis, true)
    }

    /// The question's language (`forced`, else detected) and its analysis in it.
    fn analysed(&self, question: &str, forced: Option<Lang>) -> (Lang, Analysis) {
        if let Some(lang) = forced {
            return (lang, self.index(lang).analyzer.analyze_question(question));
        }
        let detection = text::detect(&text::tokenize(question));
        if detection.clear {
            let analysis = self
                .index(detection.lang)
                .analyzer
                .analyze_question(question);
            return (detection.lang, analysis);
        }
        // Unclear (short, or words of both languages): the language whose knowledge reads more
        // of the question wins ("hi" is an English greeting, not an unknown French word; "re
        // bonjour" a French one, whatever the English "re" voted); the vote decides a tie. The
        // winner's analysis is the one decided on.
        let known = |l: Lang| {
            let a = self.index(l).analyzer.analyze_question(question);
            // A synonym concept is stronger evidence than a word seen somewhere.
            let score = a
                .tokens
                .iter()
                .map(|t| match (&t.concept, t.stop) {
                    (Some(_), _) => 2,
                    (None, false) if self.index(l).analyzer.knows(&t.word) => 1,
                    _ => 0,
                })
                .sum::<usize>();
            (score, a)
        };
        let (en, en_analysis) = known(Lang::En);
        let (fr, fr_analysis) = known(Lang::Fr);
        let lang = match en.cmp(&fr) {
            std::cmp::Ordering::Greater => Lang::En,
            std::cmp::Ordering::Less => Lang::Fr,
            std::cmp::Ordering::Equal => detection.lang,
        };
        let analysis = match lang {
            Lang::En => en_analysis,
            Lang::Fr => fr_analysis,
        };
        (lang, analysis)
    }

    /// What the emergency rules make of `question`, as in [`Matcher::explain`]: whether one
    /// fires and the urgency check may withhold its 112, or none fires and it names a warning
    /// sign; without scoring the entries (the check asks it of its least urgent-looking urgent
    /// and most urgent-looking non-urgent examples at each load).
    fn emergency_rules(&self, question: &str) -> Rules {
        let (lang, analysis) = self.analysed(question, None);
        let focused = self.focus(self.index(lang), question, &analysis);
        let terms = self.strip_politeness(focused.as_ref().unwrap_or(&analysis));
        let set = self.rules.set(&analysis.concepts);
        match self.rule_fires(IntentKind::Emergency, &terms, &analysis, &set) {
            Some((i, _)) => Rules::Fire {
                checked: self.may_withhold(i, &analysis),
            },
            None if self.alarm_sign(&analysis).is_some() => Rules::SignOnly,
            None => Rules::Silent,
        }
    }

    /// The first warning sign `analysis` names (see `warning_signs`) where the urgency check
    /// may send a 112 no rule sent: a message long enough to read, the sign no animal's and
    /// not supposed.
    fn alarm_sign<'a>(&self, analysis: &'a Analysis) -> Option<&'a str> {
        let words = analysis.tokens.len();
        let excluded = analysis
            .concepts
            .iter()
            .any(|c| NEVER_ALARMED.contains(&c.as_str()));
        if words < ALARM_MIN_WORDS || excluded {
            return None;
        }
        analysis
            .concepts
            .iter()
            .find(|c| self.warning_signs.binary_search(c).is_ok())
            .map(String::as_str)
    }

    /// The emergency intent whose 112 the urgency check sends for `sign`, with the
    /// probability it read: the first checked intent whose rules name the sign, else the
    /// first checked one. None when the check is not sure enough.
    fn alarm(&self, question: &str, sign: &str) -> Option<(usize, f32, f32)> {
        let u = self.urgency.as_ref()?;
        let p = u.probability(question);
        if p <= u.alarm {
            return None;
        }
        let checked = || {
            self.knowledge
                .intents
                .iter()
                .enumerate()
                .filter(|(_, i)| i.kind == IntentKind::Emergency && i.urgency_check)
        };
        let names = |i: &Intent| i.rules.iter().any(|r| r.all.iter().any(|c| c == sign));
        let (i, _) = checked()
            .find(|(_, i)| names(i))
            .or_else(|| checked().next())?;
        Some((i, p, u.alarm))
    }

    /// Whether the urgency check may withhold the 112 of emergency intent `i`: not when its
    /// file says never (`urgency_check = false`), nor when the analysis places a sign now, or
    /// on someone without anything of [`DEFUSED_BY`] beside it. The model learnt how messages
    /// are written, and a question about the treatment's side effects reads the same with or
    /// without "j'ai" before "les selles noires" (0.005 for "j'ai les selles noires, est-ce
    /// que l'injection peut causer ça ?").
    fn may_withhold(&self, i: usize, analysis: &Analysis) -> bool {
        let has = |name: &str| analysis.concepts.iter().any(|c| c == name);
        let any = |names: &[&str]| names.iter().any(|c| has(c));
        // A "now" beside a past that is over is often the now of the recovery ("…il y a un an,
        // maintenant il va bien"), not of the sign.
        let over = any(&PAST) && any(&RECOVERED);
        let defused = any(&DEFUSED_BY) || any(&PAST);
        let vetoed = (has(SIGN_NOW) && !over) || (has(HAS_SIGN) && !defused);
        self.knowledge.intents[i].urgency_check && !vetoed
    }

    /// [`Matcher::explain`] in `lang` as if no phrasing had exactly the question's terms: how
    /// a visitor wording a phrasing a little differently fares. The quality gates ask each
    /// phrasing this way; asked as written, every phrasing would win for its own entry.
    pub fn explain_unseen(&self, question: &str, lang: Lang) -> Explanation {
        let analysis = self.index(lang).analyzer.analyze_question(question);
        self.decide(question, lang, true, analysis, false)
    }

    /// The terms `question` is matched on in `lang` (as in [`Explanation::terms`]): its
    /// normalised form, on which missed questions are grouped. Only the analysis, no scoring.
    pub fn terms(&self, question: &str, lang: Lang) -> Vec<String> {
        self.strip_politeness(&self.index(lang).analyzer.analyze_question(question))
    }

    /// Terms of a question without greeting/thanks/goodbye concepts.
    fn strip_politeness(&self, analysis: &Analysis) -> Vec<String> {
        let along = self.courteous(analysis);
        analysis
            .terms
            .iter()
            .filter(|t| {
                !t.strip_prefix(analyze::CONCEPT_PREFIX)
                    .is_some_and(|c| self.is_polite(c, along))
            })
            .cloned()
            .collect()
    }

    /// The part of a message its author asks, when they say which: "Je sais que c'est sûr. Ma
    /// vraie question : combien ça coûte ?" is about the price. The sentences after the last
    /// one with a `focus` concept ("ma question", "what I want to know"), else every sentence
    /// but those with a `dismiss` concept ("je sais que", "oubliez", "I'm not asking"). None
    /// when the message says neither, or nothing to match would remain.
    fn focus(&self, index: &LangIndex, question: &str, analysis: &Analysis) -> Option<Analysis> {
        let has = |a: &Analysis, c: &str| a.concepts.iter().any(|x| x == c);
        if !has(analysis, FOCUS) && !has(analysis, DISMISS) {
            return None;
        }
        let sentences: Vec<(&str, Analysis)> = question
            .split(['.', '!', '?', ':', ';', '\n'])
            .filter(|p| !p.trim().is_empty())
            .map(|p| (p, index.analyzer.analyze_question(p)))
            .collect();
        let kept: Vec<&str> = match sentences.iter().rposition(|(_, a)| has(a, FOCUS)) {
            Some(i) if i + 1 < sentences.len() => {
                sentences[i + 1..].iter().map(|(p, _)| *p).collect()
            }
            Some(_) => return None,
            None => sentences
                .iter()
                .filter(|(_, a)| !has(a, DISMISS))
                .map(|(p, _)| *p)
                .collect(),
        };
        let kept = index.analyzer.analyze_question(&kept.join(". "));
        let matchable = self
            .strip_politeness(&kept)
            .iter()
            .any(|t| index.terms.contains_key(t.as_str()));
        matchable.then_some(kept)
    }

    /// Whether the question holds a politeness concept, so that their `along` concepts go too.
    fn courteous(&self, analysis: &Analysis) -> bool {
        analysis.terms.iter().any(|t| self.polite.contains(t))
    }

    /// The first concept the message names that calls for the safety line, if any.
    fn safety_concept<'a>(&self, analysis: &'a Analysis) -> Option<&'a str> {
        analysis
            .concepts
            .iter()
            .find(|c| self.safety_concepts.binary_search(c).is_ok())
            .map(String::as_str)
    }

    /// An emergency the rules did not recognise may still name its sign ("il dit n'importe
    /// quoi"): a reply that is no "did you mean" then ends with what to do if it is happening
    /// now, and says so in its reason.
    /// An answer also ends with it whenever someone is said to have a sign (see
    /// [`holds_a_sign`]), even one that is no safety-line concept ("le bras gauche tout
    /// lourd depuis 10 min").
    fn with_safety_line(
        &self,
        analysis: &Analysis,
        lang: Lang,
        mut why: String,
        mut reply: Reply,
    ) -> (String, Reply) {
        if let Some(sign) = self.safety_concept(analysis) {
            reply.text = messages::with_safety_line(lang, reply.text);
            why.push_str(&format!("; it names `{sign}`: the safety line follows"));
        } else if reply.kind == ReplyKind::Answer && holds_a_sign(analysis) {
            reply.text = messages::with_safety_line(lang, reply.text);
        }
        (why, reply)
    }

    /// A "did you mean", a "no answer" or a handoff to a message where someone is said to have
    /// a warning sign, or one is happening now ("il crache rouge depuis ce matin", "can someone
    /// call me back? my wife's lips are going blue"), opens with what to do if it is an
    /// emergency: the rules did not recognise one, but the visitor should not have to read past
    /// suggestions or an advisor's offer to find 112 (answers keep it at the end). Returns
    /// whether the line is now first.
    fn safety_first(analysis: &Analysis, reply: &mut Reply) -> bool {
        let unsure = matches!(
            reply.kind,
            ReplyKind::Clarify | ReplyKind::Fallback | ReplyKind::Handoff
        );
        let first = unsure && holds_a_sign(analysis);
        if first {
            reply.text = messages::safety_line_first(reply.lang, &reply.text);
        }
        first
    }

    /// Whether a concept (`thanks`) is politeness; `along`: the question is courteous, so the
    /// `along` concepts are too.
    fn is_polite(&self, concept: &str, along: bool) -> bool {
        let named = |p: &String| p[1..] == *concept;
        self.polite.iter().any(named) || (along && self.along.iter().any(named))
    }

    fn decide(
        &self,
        question: &str,
        lang: Lang,
        lang_forced: bool,
        analysis: Analysis,
        exact: bool,
    ) -> Explanation {
        let index = self.index(lang);
        // Rules see the whole message; the entries are matched on the part asked.
        let focused = self.focus(index, question, &analysis);
        let asked = focused.as_ref().unwrap_or(&analysis);
        let terms = self.strip_politeness(asked);
        let query = Query::new(index, &terms);
        let mut top = score::top(index, &query, rerank::CANDIDATES);
        if !top.is_empty() {
            // Greeting and thanks words say nothing of the entry: left out of the n-grams too.
            let along = self.courteous(asked);
            let words = asked
                .tokens
                .iter()
                .filter(|t| {
                    t.concept
                        .as_deref()
                        .is_none_or(|c| !self.is_polite(c, along))
                })
                .map(|t| t.word.as_str());
            let vectors = rerank::QueryVectors::new(&index.reranker, &query, words);
            index.reranker.rerank(index, &vectors, &mut top, exact);
        }
        top.truncate(5);
        let (mut reason, mut reply) = self.verdict(Asked {
            question,
            lang,
            index,
            analysis: &analysis,
            terms: &terms,
            top: &top,
        });
        if Self::safety_first(&analysis, &mut reply) {
            reason.push_str(
                "; someone has a warning sign, or it is now: the safety line comes first",
            );
        }
        let top = top
            .iter()
            .map(|s| match index.candidates[s.candidate as usize].target {
                Target::Entry(i) => (self.knowledge.entries[i].id.clone(), "faq", *s),
                Target::Intent(i) => (self.knowledge.intents[i].id.clone(), "intent", *s),
            })
            .collect();
        Explanation {
            lang,
            lang_forced,
            analysis,
            terms,
            unknown: query.unknown.into_iter().map(|(t, _)| t).collect(),
            top,
            thresholds: index.reranker.thresholds(),
            learned: index.reranker.model.is_some(),
            reason,
            reply,
        }
    }

    /// The reply to an analysed question, and why.
    fn verdict(&self, asked: Asked) -> (String, Reply) {
        let Asked { lang, analysis, .. } = asked;
        // 1. Emergencies beat everything, including a greeting or a question around them,
        // unless the urgency check is nearly sure the message describes none now.
        let set = self.rules.set(&analysis.concepts);
        if let Some((i, rule)) = self.rule_fires(IntentKind::Emergency, asked.terms, analysis, &set)
        {
            let urgency = self
                .urgency
                .as_ref()
                .filter(|_| self.may_withhold(i, analysis))
                .map(|u| (u.probability(asked.question), u.threshold));
            match urgency {
                Some((p, t)) if p < t => {
                    let (why, mut reply) = self.after_emergency(asked, &set);
                    // The rule saw a warning sign: the visitor still reads where to call.
                    reply.text = match reply.kind {
                        ReplyKind::Clarify | ReplyKind::Fallback | ReplyKind::Handoff => {
                            messages::safety_line_first(lang, &reply.text)
                        }
                        _ => messages::with_safety_line(lang, reply.text),
                    };
                    let why = format!(
                        "the emergency rule [{rule}] fired, but the urgency check reads \
                         {p:.3} < {t:.3} (no emergency now): 112 withheld, the safety line \
                         kept; {why}"
                    );
                    return (why, reply);
                }
                _ => {
                    let candidates = self.best_three(asked.index, asked.top);
                    let reply = self.intent_reply(i, lang, 1.0, seed(asked.question), candidates);
                    let check = match (urgency, &self.urgency) {
                        (Some((p, t)), _) => format!("urgency check {p:.3} ≥ {t:.3}"),
                        (None, Some(_)) => "the urgency check does not apply: someone has the \
                                            sign, it is now, or the intent is never checked"
                            .to_owned(),
                        (None, None) => "no urgency check".to_owned(),
                    };
                    let why = format!("emergency: the rule [{rule}] fired ({check})");
                    return (why, reply);
                }
            }
        }
        // 2. No rule fired, but a warning sign is named and the check is surer than it was of
        // any non-urgent example: the emergency the rules' words did not spell.
        if let Some(sign) = self.alarm_sign(analysis) {
            if let Some((i, p, t)) = self.alarm(asked.question, sign) {
                let candidates = self.best_three(asked.index, asked.top);
                let reply = self.intent_reply(i, lang, 1.0, seed(asked.question), candidates);
                let why = format!(
                    "emergency: no rule fired, but the message names `{sign}` and the urgency \
                     check reads {p:.3} > {t:.3} (above every non-urgent example in \
                     cross-validation)"
                );
                return (why, reply);
            }
        }
        self.after_emergency(asked, &set)
    }

    /// The best three candidates, for the reply's `candidates`.
    fn best_three(&self, index: &LangIndex, top: &[Scored]) -> Vec<Candidate> {
        top.iter()
            .take(3)
            .map(|s| self.candidate(index, s))
            .collect()
    }

    /// The decision once no emergency is sent: handoff, firm fallbacks, small talk, scoring.
    fn after_emergency(&self, asked: Asked, set: &ConceptSet) -> (String, Reply) {
        let Asked {
            question,
            lang,
            index,
            analysis,
            terms,
            top,
        } = asked;
        let seed = seed(question);
        let candidates = self.best_three(index, top);
        // 2. A request for a person. A warning sign beside it still gets the safety line: an
        // advisor may take minutes to answer ("il ne parle plus, ses yeux sont jaunes… le
        // traitement coûte combien ?" got the handoff and no word of 112).
        if let Some((i, rule)) = self.rule_fires(IntentKind::Handoff, terms, analysis, set) {
            let reply = self.intent_reply(i, lang, 1.0, seed, candidates);
            let why = format!("handoff: the rule [{rule}] fired");
            return self.with_safety_line(analysis, lang, why, reply);
        }
        // 3. What the bot must never answer from the article: a diagnosis, a medication.
        if let Some((i, rule)) = self.firm_fallback(terms, analysis, set) {
            let reply = self.intent_reply(i, lang, 1.0, seed, candidates);
            let why = format!("fallback: the rule [{rule}] fired");
            return self.with_safety_line(analysis, lang, why, reply);
        }
        // 4. Small talk about the bot itself ("tu es un robot ?", "what's your name?"), when
        // nothing but its rule's words and politeness is in the question.
        if let Some((i, rule)) = self.smalltalk_rule(terms, set) {
            let reply = self.intent_reply(i, lang, 1.0, seed, candidates);
            let why = format!("small talk: the rule [{rule}] fired, nothing else asked");
            return self.with_safety_line(analysis, lang, why, reply);
        }
        // 5. Nothing but greetings, thanks, acknowledgements or goodbyes.
        let meaningful = terms.iter().any(|t| !t.is_empty());
        if !meaningful {
            if let Some(i) = self.last_politeness(analysis) {
                let reply = self.intent_reply(i, lang, 1.0, seed, candidates);
                return (
                    "small talk: only greeting, thanks or goodbye words".to_owned(),
                    reply,
                );
            }
            let reply = self.unsure(ReplyKind::Fallback, lang, 0.0, Vec::new(), candidates);
            return (
                "fallback: no word to match (empty, symbols or emoji)".to_owned(),
                reply,
            );
        }

        // 6. A courtesy around what was read or what comes next, asking nothing: "merci pour
        // ces infos sur la cirrhose", "ok je vais en parler à mon hépatologue, bonne soirée".
        // Its topic words say what the thanks are for; answering them would repeat an answer
        // nobody asked for again.
        if let Some(i) = self.courtesy_asking_nothing(question, lang, analysis) {
            let reply = self.intent_reply(i, lang, 1.0, seed, candidates);
            let why = "small talk: a courtesy, and nothing asked (no question mark, question \
                       word, request or follow-up)";
            return self.with_safety_line(analysis, lang, why.to_owned(), reply);
        }

        // 7. Scored candidates.
        let Some(best) = top.first() else {
            let reply = self.unsure(ReplyKind::Fallback, lang, 0.0, Vec::new(), candidates);
            return ("fallback: no known word in the question".to_owned(), reply);
        };
        let runner_up = top.get(1).map_or(0.0, |s| s.confidence);
        let best_target = index.candidates[best.candidate as usize].target;
        let conf = best.confidence;
        let mut band = index.reranker.band(conf, runner_up);
        // One word that is none of an entry's core terms is not enough to answer with it:
        // "attends" is in the steps' phrasings ("attendre les résultats"), "recommencer" in the
        // results', and either alone once got that entry's answer with confidence. The model
        // learnt from phrasings, which are never one stray word long; an exact phrasing is.
        let one_stray_word = asked.terms.len() == 1
            && best.core_missing >= 1.0
            && best.similarity < rerank::EXACT
            && matches!(best_target, Target::Entry(_));
        if band == Band::Answer && one_stray_word {
            band = Band::Clarify;
        }
        let t = index.reranker.thresholds();
        if band == Band::Answer {
            let reason = format!(
                "confident ({conf:.2} ≥ {:.2}) and clearly ahead of the next ({runner_up:.2})",
                t.answer
            );
            let reply = match best_target {
                Target::Entry(i) => self.entry_reply(i, conf, candidates),
                Target::Intent(i) => self.intent_reply(i, lang, conf, seed, candidates),
            };
            let why = format!("{}: {reason}", reply.kind.as_str());
            return self.with_safety_line(analysis, lang, why, reply);
        }
        let suggestions: Vec<Suggestion> = top
            .iter()
            // Suggestions close enough to the best to be worth a button.
            .filter(|s| s.confidence >= (t.clarify * 0.5).max(conf * 0.3))
            .filter_map(|s| match index.candidates[s.candidate as usize].target {
                Target::Entry(i) => Some(self.suggestion(i)),
                Target::Intent(_) => None,
            })
            .take(3)
            .collect();
        if band == Band::Clarify && !suggestions.is_empty() {
            // An intent too close to call (e.g. out of scope vs an entry) still gets the choice.
            let reply = self.unsure(ReplyKind::Clarify, lang, conf, suggestions, candidates);
            let why = if one_stray_word && conf >= t.answer {
                format!("clarify: one word ({conf:.2}), none of the best entry's core terms")
            } else if conf >= t.answer {
                format!("clarify: the best ({conf:.2}) is not clearly ahead of the next ({runner_up:.2})")
            } else {
                format!(
                    "clarify: the best ({conf:.2}) is below the answer threshold {:.2}",
                    t.answer
                )
            };
            return (why, reply);
        }
        let reason = format!(
            "fallback: the best ({conf:.2}) is below the clarify threshold {:.2}",
            t.clarify
        );
        let reply = self.unsure(ReplyKind::Fallback, lang, conf, suggestions, candidates);
        (reason, reply)
    }

    /// The first intent of `kind` with a rule whose concepts are all in the question (unless
    /// one of its `[unless]` holds).
    fn rule_fires(
        &self,
        kind: IntentKind,
        terms: &[String],
        analysis: &Analysis,
        set: &ConceptSet,
    ) -> Option<(usize, String)> {
        self.firing(terms, analysis, set, |i| i.kind == kind)
    }

    /// The first firm fallback (`firm = true`) whose rule fires.
    fn firm_fallback(
        &self,
        terms: &[String],
        analysis: &Analysis,
        set: &ConceptSet,
    ) -> Option<(usize, String)> {
        self.firing(terms, analysis, set, |i| {
            i.firm && i.kind == IntentKind::Fallback
        })
    }

    /// The first intent chosen by `which` with a rule that fires and no `[unless]` that holds.
    fn firing(
        &self,
        terms: &[String],
        analysis: &Analysis,
        set: &ConceptSet,
        which: impl Fn(&Intent) -> bool,
    ) -> Option<(usize, String)> {
        self.first_rule(
            |n, i| which(i) && !self.rules.held_back(n, set),
            |n, k, _, r| {
                self.rules.fires(n, k, set) && (!r.alone || self.alone(r, terms, analysis))
            },
        )
    }

    /// Whether the question holds nothing but `rule`'s concepts and politeness: its terms, and
    /// the concepts that are not terms ("êtes-vous" in "êtes-vous humain ?" asks about the bot).
    fn alone(&self, rule: &Rule, terms: &[String], analysis: &Analysis) -> bool {
        let along = self.courteous(analysis);
        only_its_concepts(rule, &[], terms)
            && analysis
                .concepts
                .iter()
                .all(|c| rule.all.contains(c) || self.is_polite(c, along))
    }

    /// A non-politeness small-talk intent with a rule whose concepts are all in the question,
    /// when the question's terms are only that rule's concepts: "tu es un robot ?" is about the
    /// bot, "le traitement est-il automatisé ?" is not.
    fn smalltalk_rule(&self, terms: &[String], set: &ConceptSet) -> Option<(usize, String)> {
        // Its `along` concepts may surround the rule's ("c'est quoi ton petit nom ?").
        self.first_rule(
            |_, i| i.kind == IntentKind::Smalltalk && !i.politeness,
            |n, k, i, r| self.rules.fires(n, k, set) && only_its_concepts(r, &i.along, terms),
        )
    }

    /// The first intent chosen by `intent` with a rule chosen by `rule` (which sees its intent):
    /// its index and the rule's concepts, for the reason.
    fn first_rule(
        &self,
        intent: impl Fn(usize, &Intent) -> bool,
        rule: impl Fn(usize, usize, &Intent, &Rule) -> bool,
    ) -> Option<(usize, String)> {
        self.knowledge
            .intents
            .iter()
            .enumerate()
            .filter(|&(n, i)| intent(n, i))
            .find_map(|(n, i)| {
                i.rules
                    .iter()
                    .enumerate()
                    .find(|&(k, r)| rule(n, k, i, r))
                    .map(|(_, r)| (n, r.all.join(" + ")))
            })
    }

    /// The closing politeness intent (thanks, acknowledgement, goodbye: `closing = true`) of a
    /// message that asks nothing (see [`text::asks`]), if it is one.
    fn courtesy_asking_nothing(
        &self,
        question: &str,
        lang: Lang,
        analysis: &Analysis,
    ) -> Option<usize> {
        let i = self.last_politeness(analysis)?;
        if !self.knowledge.intents[i].closing {
            return None;
        }
        if analysis
            .concepts
            .iter()
            .any(|c| ASKING.contains(&c.as_str()))
        {
            return None;
        }
        let courteous: Vec<&str> = analysis
            .tokens
            .iter()
            .filter(|t| {
                t.concept
                    .as_deref()
                    .is_some_and(|c| self.is_polite(c, true))
            })
            .map(|t| t.word.as_str())
            .collect();
        let is_courteous = |w: &str| courteous.contains(&w);
        (text::opens_a_clause(question, is_courteous) && !text::asks(lang, question, is_courteous))
            .then_some(i)
    }

    /// The politeness intent (greeting, thanks, acknowledgement, goodbye) whose concept comes
    /// last in the question: "ok merci" thanks, "merci, au revoir" says goodbye.
    fn last_politeness(&self, analysis: &Analysis) -> Option<usize> {
        analysis.concepts.iter().rev().find_map(|concept| {
            self.knowledge.intents.iter().position(|i| {
                i.politeness
                    && i.rules
                        .iter()
                        .any(|r| r.all.iter().any(|c| c == concept) && r.fires(&analysis.concepts))
            })
        })
    }

    fn candidate(&self, index: &LangIndex, s: &Scored) -> Candidate {
        match index.candidates[s.candidate as usize].target {
            Target::Entry(i) => {
                let e = &self.knowledge.entries[i];
                Candidate {
                    id: e.id.clone(),
                    is_intent: false,
                    question: e.question.clone(),
                    confidence: s.confidence,
                }
            }
            Target::Intent(i) => Candidate {
                id: self.knowledge.intents[i].id.clone(),
                is_intent: true,
                question: String::new(),
                confidence: s.confidence,
            },
        }
    }

    fn suggestion(&self, entry: usize) -> Suggestion {
        let e = &self.knowledge.entries[entry];
        Suggestion {
            faq_id: e.id.clone(),
            question: e.question.clone(),
        }
    }

    fn entry_reply(&self, idx: usize, confidence: f32, candidates: Vec<Candidate>) -> Reply {
        let e = &self.knowledge.entries[idx];
        // A follow-up naming no entry of this language is left out: it is a warning for the
        // author (`faqbot check`), never a broken button for the visitor.
        let suggestions = e
            .related
            .iter()
            .filter_map(|id| self.knowledge.entry(id, e.lang))
            .map(|r| Suggestion {
                faq_id: r.id.clone(),
                question: r.question.clone(),
            })
            .collect();
        Reply {
            kind: ReplyKind::Answer,
            text: messages::answer(e.lang, &e.answer),
            faq_id: Some(e.id.clone()),
            intent: None,
            confidence,
            suggestions,
            source: Some(e.section.clone()),
            lang: e.lang,
            candidates,
        }
    }

    fn intent_reply(
        &self,
        idx: usize,
        lang: Lang,
        confidence: f32,
        seed: u64,
        candidates: Vec<Candidate>,
    ) -> Reply {
        let intent = &self.knowledge.intents[idx];
        let kind = match intent.kind {
            IntentKind::Smalltalk => ReplyKind::Smalltalk,
            IntentKind::Handoff => ReplyKind::Handoff,
            IntentKind::Emergency => ReplyKind::Emergency,
            IntentKind::Fallback => ReplyKind::Fallback,
        };
        let mut text = intent.response(lang, seed).to_owned();
        if kind == ReplyKind::Emergency && !text.contains("112") {
            // Files are validated to contain it; this keeps the promise even for a bad edit.
            text = format!("{} {text}", messages::emergency_prefix(lang));
        }
        if kind == ReplyKind::Fallback {
            text = messages::with_safety_line(lang, text);
        }
        Reply {
            kind,
            text,
            faq_id: None,
            intent: Some(intent.id.clone()),
            confidence,
            suggestions: Vec::new(),
            source: None,
            lang,
            candidates,
        }
    }

    /// A reply without an answer: "did you mean…" (clarify) or "I am not sure" (fallback),
    /// with the suggestions it offers.
    fn unsure(
        &self,
        kind: ReplyKind,
        lang: Lang,
        confidence: f32,
        suggestions: Vec<Suggestion>,
        candidates: Vec<Candidate>,
    ) -> Reply {
        let text = match kind {
            ReplyKind::Clarify => messages::clarify(lang, &suggestions),
            _ => messages::fallback(lang, &suggestions),
        };
        let text = messages::with_safety_line(lang, text);
        Reply {
            kind,
            text,
            faq_id: None,
            intent: None,
            confidence,
            suggestions,
            source: None,
            lang,
            candidates,
        }
    }
}

/// Whether the question's terms are all concepts of `rule` (politeness words are not terms).
fn only_its_concepts(rule: &Rule, along: &[String], terms: &[String]) -> bool {
    terms.iter().all(|t| {
        t.strip_prefix(analyze::CONCEPT_PREFIX)
            .is_some_and(|c| rule.all.iter().chain(along).any(|a| a == c))
    })
}

/// A stable seed from the question, so the same question always gets the same variant.
/// Whether the analysis says someone has a warning sign, or one is happening now (`has_sign`,
/// `sign_now`).
fn holds_a_sign(analysis: &Analysis) -> bool {
    analysis
        .concepts
        .iter()
        .any(|c| c == analyze::HAS_SIGN || c == analyze::SIGN_NOW)
}

fn seed(question: &str) -> u64 {
    // FNV-1a: tiny, stable across platforms and releases (unlike std's hasher).
    question.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    //! Decisions that come from rules, on the shipped knowledge.
    use std::path::Path;
    use std::sync::Arc;

    use super::{Matcher, ReplyKind};
    use crate::knowledge::{self, Knowledge};

    /// The shipped faq/ and intents/, which must load without a finding.
    pub(crate) fn shipped() -> Knowledge {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (k, errors) = knowledge::load(&root.join("faq"), &root.join("intents"));
        assert!(errors.is_empty(), "{errors:?}");
        k
    }

    #[test]
    fn emergencies_come_from_rules_and_spare_questions_about_a_symptom() {
        let m = Matcher::new(Arc::new(shipped()));
        let kind = |q: &str| m.reply(q, None).kind;
        // A question about a symptom in general: no 112.
        assert_ne!(
            kind("la cirrhose peut-elle causer des saignements ?"),
            ReplyKind::Emergency
        );
        assert_ne!(kind("can cirrhosis cause confusion?"), ReplyKind::Emergency);
        // Whether a disease causes pain, asked in general: no 112 either.
        for q in [
            "est-ce que la cirrhose fait très mal au ventre ?",
            "la stéatose provoque-t-elle des douleurs violentes à l'abdomen ?",
            "does hepatitis give you excruciating stomach pain?",
        ] {
            assert_ne!(kind(q), ReplyKind::Emergency, "{q}");
        }
        // The same words about a relative, about oneself, or now: 112.
        for q in [
            "mon père vomit du sang, est-ce possible avec une cirrhose ?",
            "je vomis du sang, c'est un symptôme de quoi ?",
            "my wife is confused right now, can cirrhosis cause that?",
            "vomi du sang",
            "mon mari a une hépatite et il a des douleurs atroces au ventre",
            "ma cirrhose me fait atrocement mal au ventre depuis cette nuit",
        ] {
            assert_eq!(kind(q), ReplyKind::Emergency, "{q}");
        }
        // A goodbye in SMS is never an emergency (it once got 112 from a fuzzy score).
        for q in ["a+", "a plus", "++", "bye"] {
            assert_eq!(kind(q), ReplyKind::Smalltalk, "{q}");
        }
    }

    #[test]
    fn one_stray_word_is_not_answered_but_one_naming_an_entry_is() {
        let m = Matcher::new(Arc::new(shipped()));
        // In an entry's phrasings but none of its core terms: "did you mean", not its answer.
        for q in ["attends", "je suis de retour"] {
            assert_eq!(m.reply(q, None).kind, ReplyKind::Clarify, "{q}");
        }
        // One word that names what an entry is about is answered.
        for (q, entry) in [
            ("prix", "cout"),
            ("cirrhose", "cirrhose_definition"),
            ("price", "cout"),
        ] {
            let r = m.reply(q, None);
            assert_eq!(
                (r.kind, r.faq_id.as_deref()),
                (ReplyKind::Answer, Some(entry)),
                "{q}"
            );
        }
    }

    /// Asserts that each of `are` gets a reply of `kind` and none of `are_not` does.
    fn assert_kind(kind: ReplyKind, are: &[&str], are_not: &[&str]) {
        let m = Matcher::new(Arc::new(shipped()));
        for q in are {
            assert_eq!(m.reply(q, None).kind, kind, "{q}");
        }
        for q in are_not {
            assert_ne!(m.reply(q, None).kind, kind, "{q}");
        }
    }

    /// [`assert_kind`] for the emergency reply.
    /// `q` gets an answer that ends with the safety line.
    fn answer_ending_with_the_safety_line(m: &Matcher, q: &str) {
        let r = m.reply(q, None);
        assert_eq!(r.kind, ReplyKind::Answer, "{q}");
        assert!(
            r.text.ends_with(super::messages::safety_line(r.lang)),
            "{q}: {}",
            r.text
        );
    }

    fn assert_emergencies(urgent: &[&str], not: &[&str]) {
        assert_kind(ReplyKind::Emergency, urgent, not);
    }

    #[test]
    fn the_urgency_check_withholds_a_rules_112_only_where_nobody_has_the_sign_now() {
        let m = Matcher::new(Arc::new(shipped()));
        let (threshold, _, _) = m
            .urgency_report()
            .expect("the shipped knowledge has urgency examples");
        assert!(threshold > 0.0 && threshold <= 0.2, "{threshold}");
        // A rule fires (a nurse's question, a history question), the check withholds the 112,
        // the safety line stays first, and the reason says why.
        for q in [
            "Je suis infirmière, comment gérez-vous un patient cirrhotique qui ferait une \
             hémorragie digestive pendant son séjour chez vous ?",
            "c'est quoi la différence entre coma hépatique et encéphalopathie ?",
        ] {
            let e = m.explain(q, None);
            assert_ne!(e.reply.kind, ReplyKind::Emergency, "{q}: {}", e.reason);
            assert!(e.reason.contains("112 withheld"), "{q}: {}", e.reason);
            let first = e.reply.text.lines().next().unwrap_or_default();
            assert!(first.contains("112"), "{q}: {}", e.reply.text);
        }
        // The model reads these as questions (0.005-0.034), but someone has the sign, or the
        // message asks for an ambulance: the rules' 112 stands.
        assert_emergencies(
            &[
                "j'ai les selles noires, est-ce que l'injection peut causer ça ?",
                "my stools are black, can the injection cause that?",
                "appelez une ambulance",
                "call an ambulance",
            ],
            &[],
        );
        let e = m.explain("mon père vomit du sang", None);
        assert!(e.reason.contains("does not apply"), "{}", e.reason);
        // Someone has the sign, but it is over or usual for them: the check decides, and
        // withholds here; told as happening now beside it, the 112 stays.
        let e = m.explain(
            "Ma belle-mère a fait un malaise à la messe dimanche, elle a été vue à l'hôpital, \
             tout va bien. Elle voudrait une consultation en ligne.",
            None,
        );
        assert_ne!(e.reply.kind, ReplyKind::Emergency, "{}", e.reason);
        assert!(e.reason.contains("112 withheld"), "{}", e.reason);
        // A novel's character, a nurse asking for her work: the check decides; a nurse whose
        // mother bleeds now keeps the 112.
        assert_emergencies(
            &["Je suis infirmière et ma mère vomit du sang depuis ce matin"],
            &[
                "Dans mon roman, un personnage meurt d'une hémorragie digestive liée à une \
                 cirrhose. Est-ce réaliste qu'il vomisse du sang noir ?",
                "I'm a hepatology nurse – what warning signs do you give patients when they go \
                 home (fever, jaundice, confusion)?",
            ],
        );
        // A now beside a past that is over is the recovery's.
        assert_emergencies(
            &[],
            &[
                "I had suicidal thoughts last year during withdrawal, I'm in therapy now and \
                 doing well. Does staying off alcohol affect the results?",
            ],
        );
        assert_emergencies(
            &[
                "ma mère fait un malaise comme à chaque fois, mais là elle ne se réveille plus \
                 depuis 10 minutes",
            ],
            &[],
        );
        // Nobody is said to have it: the check is asked, and the reason gives its reading.
        let e = m.explain(
            "Une insuffisance hépatique, ça peut faire perdre connaissance ?",
            None,
        );
        let read = ["urgency check 0.", "urgency check reads 0."];
        assert!(read.iter().any(|r| e.reason.contains(r)), "{}", e.reason);
    }

    #[test]
    fn the_urgency_check_sends_a_112_no_rule_sent_only_to_a_long_enough_message_with_a_sign() {
        let m = Matcher::new(Arc::new(shipped()));
        let (_, alarm, stats) = m
            .urgency_report()
            .expect("the shipped knowledge has urgency examples");
        assert!((0.9..1.0).contains(&alarm), "{alarm}");
        assert_eq!(stats.alarmed_not_urgent, 0, "{stats:?}");
        // Signs no rule's words spell, in someone nobody names as a relative: the model is
        // sure, and the reason says it sent the 112.
        for q in [
            "La personne âgée que j'accompagne est tombée, elle bave, elle ne parle plus et un \
             côté de son visage tombe",
            "Le monsieur que je garde est tombé, il est couché là, il ne parle plus, son ventre \
             est gonflé, on fait comment",
        ] {
            let e = m.explain(q, None);
            assert_eq!(e.reply.kind, ReplyKind::Emergency, "{q}: {}", e.reason);
            assert!(e.reason.contains("no rule fired"), "{q}: {}", e.reason);
        }
        // Short, an animal's, supposed, denied, or a goodbye: never, whatever the model reads.
        for q in [
            "mon mari vient de vomir",
            "il n'a jamais vomi de sang",
            "mon chien a vomi du sang",
            "si je vomis du sang",
            "bye, à plus",
            "My skin isn't yellow and I have no pain at all, I just want to know the price.",
        ] {
            let e = m.explain(q, None);
            assert_ne!(e.reply.kind, ReplyKind::Emergency, "{q}: {}", e.reason);
        }
    }

    #[test]
    fn without_urgency_examples_every_rules_112_is_sent() {
        let k = Knowledge {
            urgency: Vec::new(),
            ..shipped()
        };
        let m = Matcher::new(Arc::new(k));
        assert!(m.urgency_report().is_none());
        let q = "c'est quoi la différence entre coma hépatique et encéphalopathie ?";
        assert_eq!(m.reply(q, None).kind, ReplyKind::Emergency);
    }

    #[test]
    fn a_symptom_told_as_the_past_is_not_an_emergency_unless_something_happens_now() {
        assert_emergencies(
            &[
                "il y a deux ans il a eu une hépatite, et là il vomit du sang depuis ce matin",
                "mon chum est tout mêlé depuis à matin",
            ],
            &[
                "mon père s'est évanoui il y a deux ans à cause de son foie, c'est héréditaire ?",
                "I had black stools last month after iron pills, is that a liver thing?",
            ],
        );
    }

    #[test]
    fn months_or_years_ago_are_the_past_weeks_and_lasting_times_are_not() {
        assert_emergencies(
            &[
                // Recent: the bleed may still be going on; "il y a … que" lasts until now.
                "elle a eu l'injection il y a 2 semaines et là elle vomit du sang",
                "ya 3 ans que je vomis du sang de temps en temps et là ça recommence fort",
                "il y a trois mois qu'il a les selles noires",
            ],
            &[
                "il a eu une hémorragie il y a 18 mois, le traitement est possible ?",
                "ya 3 ans j'ai vomi du sang, c'est une contre-indication ?",
                // "dernier" for "dernière": Snowball gives the two forms different stems.
                "mon pere a eu une hémorragie l'annee dernier, le traitement et possible ?",
                "j'ai fait une crise d'épilepsie quand j'étais petit, est-ce une contre-indication ?",
            ],
        );
    }

    #[test]
    fn a_question_about_a_sign_holds_back_unless_someone_is_said_to_have_it() {
        assert_emergencies(
            &[
                // A person a few words before the sign: someone has it.
                "je vomis du sang, est-ce un effet secondaire du traitement ?",
                "mon mari vient de vomir du sang, c'est possible avec une cirrhose ?",
                "my stools are black, can the injection cause that?",
                // Or right after it, as the one who has it.
                "vomissements de sang chez mon père, est-ce un effet secondaire ?",
                "confusion soudaine chez mon mari cirrhotique, est-ce possible avec la maladie ?",
            ],
            &[
                // "je" elsewhere in the message says nobody has it.
                "Dans la série que je regarde, le personnage vomit du sang, c'est réaliste ?",
                "On m'a dit qu'une hémorragie peut arriver avec les varices, c'est vrai ?",
                "In the novel I'm writing, a character vomits blood. Is that accurate?",
                "des convulsions, que j'ai lu, peuvent arriver avec l'encéphalopathie ?",
            ],
        );
    }

    #[test]
    fn a_now_lifts_a_history_only_near_a_sign_and_an_animal_has_its_own() {
        assert_emergencies(
            &[
                "il y a deux ans il a eu une hépatite, et là il vomit du sang depuis ce matin",
                // Going on since a moment ago counts wherever it stands.
                "j'ai une cirrhose, est-ce que ça peut causer une douleur atroce au ventre comme celle que j'ai depuis ce matin ?",
                "un chien a mordu ma fille au visage, ça pisse le sang",
                "mon chien m'a mordu et je saigne à flots",
            ],
            &[
                "Mon beau-père a fait des convulsions il y a deux ans pendant un sevrage, il est sobre maintenant. Est-il un bon candidat ?",
                "Mon chien a vomi du sang hier soir, le vétérinaire l'a vu ce matin. Vous traitez les animaux ?",
                "My dog threw up blood, the vet says it was an ulcer. Do you treat patients from the UK?",
            ],
        );
    }

    #[test]
    fn weeks_after_a_sign_a_supposed_sign_a_risk_or_a_generality_hold_back() {
        assert_emergencies(
            &[
                // Weeks before a sign date something else; an "if" after "is it serious" tells.
                "elle a eu l'injection il y a 3 semaines, elle vomit du sang",
                "c'est grave si on a mal au ventre à en crier et que le ventre est dur ?",
                "si je vomis du sang maintenant, je fais quoi ?",
                "mon mari vomit parfois du sang et là il recommence",
                // "s'il vous plaît" supposes nothing.
                "svp c urgent ma fille a mangé des cacahuètes, ses lèvres gonflent et elle tousse",
            ],
            &[
                "j'ai fait un malaise il y a 3 semaines, rien de grave, le traitement est possible ?",
                "my dad fainted last week, the doctor said it was nothing",
                "Si je fais une hémorragie pendant mon séjour, la clinique a-t-elle une réanimation ?",
                "s'il vomit du sang après l'injection, que faites-vous ?",
                "Les risques de l'injection : hémorragie, infection ?",
                "Pourquoi les malades du foie ont parfois les selles noires ?",
            ],
        );
    }

    #[test]
    fn a_sign_said_not_to_be_there_is_no_sign_and_a_head_knock_or_a_cleaner_is() {
        assert_emergencies(
            &[
                // A negation a sign's own words hold, or one that says it goes on.
                "il n'arrête pas de vomir du sang",
                "je ne peux pas respirer",
                "pas de fièvre mais il vomit du sang",
                // "a plus" is a goodbye ("à plus") unless the sign's words start first.
                "il n'a plus de pouls",
                "mon oncle s'est cogné la tête au ski, là il vomit",
                "my grandson drank some of the dishwasher liquid, he's coughing",
            ],
            &[
                "Je n'ai pas de douleur à la poitrine, pas de fièvre, je voulais juste les délais",
                "Mon père a une cirrhose stable, il n'a jamais vomi de sang ni eu les selles noires.",
                "My husband's cirrhosis is stable, no bleeding, no confusion so far. Can he start?",
                "jsuis pompier volontaire, vous avez de la doc sur la cirrhose pour les familles ?",
            ],
        );
    }

    #[test]
    fn something_drunk_or_swallowed_a_farewell_with_the_means_and_nothing_said_as_a_sign() {
        assert_emergencies(
            &[
                "my toddler just drank some of the bleach I was cleaning with",
                "jai bu de leau de javel ya 10 min jai mal au ventre",
                "Our son swallowed a few of those tiny magnet balls, his tummy hurts",
                "my nephew drank some lamp oil, he's coughing",
                "my 3 year old got into grandma's pills and he's really sleepy",
                "je suis sur le pont avec ses cachets dans la poche, personne peut m'aider, adieu",
            ],
            &[
                "j'ai pris de l'acide ursodésoxycholique pendant un an, est-ce compatible ?",
                "Every now and then I get a dull ache under my ribs, nothing sharp. Is it my liver?",
                "Suite à l'hémorragie de mon époux en mars dernier, traitée avec succès, un devis ?",
                "Do you treat patients who had liver failure after mushroom poisoning?",
            ],
        );
    }

    #[test]
    fn shock_an_electric_one_a_clot_and_a_stranger_on_screen() {
        assert_emergencies(
            &[
                "il me répond plus et il est tout blanc",
                "mon collègue a pris un coup de jus sur le chantier, son cœur bat n'importe comment",
                "my mom's leg is huge and red and now she's out of breath just sitting",
                "cut my hand deep, the towel is still soaking through and I feel dizzy",
                "ma mère a un mal de tête d'un coup, le pire de sa vie, elle vomit",
            ],
            &[
                "J'ai vu dans une série une femme qui crachait du sang à cause de son foie, ça existe ?",
                "Avec le prix des billets je vais faire un AVC, vous remboursez le vol ?",
                "le conseiller ne me répond plus, je peux avoir quelqu'un d'autre ?",
                "mes selles sont toutes blanches depuis une semaine, c'est le foie ?",
            ],
        );
    }

    #[test]
    fn a_sign_between_ne_and_pas_is_none_and_what_a_relative_sees_is_one() {
        assert_emergencies(
            &[
                "Mon bébé est tombé sur la tête en jouant, il a vomi deux fois",
                "my grandad hit his head, he keeps asking the same question over and over",
                "mon grand-père est resté au soleil, il dit plus rien de sensé et il est brûlant",
                "la rougeur monte jusqu'à l'épaule depuis l'injection et j'ai 40 de fièvre",
                "ma mere arrive plus a bouger le coté gauche et elle dit des mots qui veulent rien dire",
                "Scooter crash outside my house, the young guy isn't moving and his head is bleeding",
                "il ne vomit plus que du sang depuis ce matin",
                // A sign whose own words hold the negation stays one.
                "mon mari ne bouge plus",
                "ma femme ne respire pas bien",
                "il n'urine plus depuis hier, il a une cirrhose",
            ],
            &[
                "Non je ne vomis pas de sang et je n'ai pas de selles noires, juste de la fatigue",
                "Does the injection hurt? I'm scared I'll pass out from the pain.",
                "Mon père a saigné du nez une heure dimanche dernier, aux urgences c'est réglé",
                "Le gastro a dit que s'il continue à boire il va finir aux urgences en vomissant du sang",
            ],
        );
    }

    #[test]
    fn a_goodbye_with_the_means_shock_signs_and_a_heater_in_plain_words() {
        assert_emergencies(
            &[
                "my daughter texted me goodbye and there are empty pill packets in the bin",
                "j'en peux plus, j'ai acheté une corde et ce soir c'est fini",
                "mon père a le ventre qui gonfle, il est blanc comme un linge et son coeur bat super vite",
                "le pansement de mon mari est trempé de sang et il a la tête qui tourne",
                "on a tous envie de vomir depuis qu'on a allumé le chauffage d'appoint au pétrole",
                "my baby swallowed one of those little round watch batteries",
            ],
            &[
                "Mon mari est en réanimation pour une hémorragie digestive, il est bien pris en charge. Et après ?",
                "Mon mari a fait un gros malaise dimanche passé, aux urgences tout est en ordre",
                "Je dis toujours à mon foie qu'il va me tuer à chaque apéro, c'est combien ?",
                "Quand je vois la facture je fais déjà une syncope, vous faites des facilités ?",
            ],
        );
    }

    #[test]
    fn nothing_drunk_since_this_morning_is_now_not_the_past() {
        assert_emergencies(
            &[
                "mon bébé de 2 mois est tout mou, il boit plus rien depuis ce matin",
                "mon fils de 10 ans a mis les doigts dans une prise, il a une brûlure à la main",
                "mon coloc a pris un truc en soirée, il tremble de partout et il repond pas",
                "my friend is talking about killing himself tonight, he's got his dad's gun",
                "ma meuf s'est renversé l'huile de la friteuse dessus, tout son bras est cloqué",
                "mon mari a plus de force dans le bras droit et il parle tout mélangé",
            ],
            &[
                "il a vomi du sang il y a deux ans, plus rien depuis, il peut faire le traitement ?",
                "Hypothetically, if someone collapsed in your waiting room, would your staff call 112?",
                "ma mère est actuellement aux urgences, ils lui font une transfusion, elle va mieux",
                "In the movie I watched last night a guy vomited blood and died. Is that realistic?",
            ],
        );
    }

    #[test]
    fn a_fire_the_cold_a_child_s_age_and_a_fever_said_with_j_ai() {
        assert_emergencies(
            &[
                "Le feu a pris dans la cuisine de ma voisine, il y a de la fumée partout et elle est encore à l'intérieur",
                "On a retrouvé le voisin, il a passé la nuit dans la neige, il parle tout doucement",
                "Les tarifs ? Accessoirement, mon fils de 3 ans vient d'avaler des comprimés de mon traitement",
                "jsui rentré avant hier apres les injections, la j'ai 40,2 et je tremble de partout",
                "Dear team, I found my neighbour on her kitchen floor, cold and barely conscious. Please advise.",
            ],
            &[
                "Hier soir j'étais aux urgences pour un malaise, ils ont fait les examens, c'était un malaise vagal",
                "je m'étouffe de rire en lisant que vous êtes disponibles alors que personne ne répond",
                "If I ever turn yellow or start vomiting blood while waiting for treatment, who do I call?",
                "slt c koi le prix ? jte jure ce foie va me tuer un jour lol",
            ],
        );
        // A handoff asked beside someone's sign opens with the safety line.
        let m = Matcher::new(Arc::new(shipped()));
        let r = m.reply(
            "can someone call me back? my wife's breathing is strange, she has cirrhosis",
            None,
        );
        assert_eq!(r.kind, ReplyKind::Handoff, "{}", r.text);
        assert!(
            r.text.starts_with(super::messages::safety_line(r.lang)),
            "{}",
            r.text
        );
    }

    #[test]
    fn a_dog_bite_bleeds_no_joke_is_no_joke_and_insulin_twice() {
        assert_emergencies(
            &[
                "ma fille s'est fait mordre au visage par le chien, ça saigne énormément",
                "je rigole pas trop là, je me suis cogné la tête et depuis 10 min je vomis",
                "Je viens de m'injecter ma dose d'insuline deux fois, je commence à trembler",
                "Mon père a une cirrhose. Il vient de remplir une bassine de sang. Il est livide.",
                "ce soir ma vie ne vaut plus rien, j'ai préparé la corde, bonne soirée",
            ],
            &[
                "mon oncle s'est étouffé avec un os de poulet à Noël, la manœuvre de Heimlich a marché et tout va bien",
                "Peut-on faire une crise après l'injection ? Je suis épileptique, stabilisé sous traitement.",
                "Should I list my overdose from 2012? I've been clean for a decade.",
            ],
        );
    }

    #[test]
    fn stung_at_sea_a_heavy_left_arm_gas_and_a_video_game() {
        assert_emergencies(
            &[
                "mon mari s'est fait piquer par quelque chose en mer, il a des plaques partout et il respire de plus en plus mal",
                "feels like an elephant sitting on my chest, sweating buckets, left arm tingling",
                "ça sent le gaz dans la cuisine, ma mère est par terre et moi j'ai la tête qui tourne",
                "Papi vient de dégringoler l'escalier, sa tête saigne et ce qu'il raconte n'a aucun sens",
            ],
            &[
                "Mon fils joue à un jeu vidéo où il faut sauver un blessé qui se vide de son sang, le foie repousse ?",
                "En ce moment je suis aux urgences avec ma femme, elle est prise en charge. Et votre traitement ?",
                "ma femme dit qu'elle va me tuer si je dépense 20 000 balles pour ça mdr",
                "je tombe dans les pommes rien qu'en voyant une seringue, il y a une anesthésie ?",
            ],
        );
        // An answer beside someone's sign names 112 even when the sign is no safety-line
        // concept.
        let m = Matcher::new(Arc::new(shipped()));
        for q in [
            "j'ai le ventre gonflé, combien coûte le traitement ?",
            "j'ai mal au ventre, combien coûte le traitement ?",
        ] {
            answer_ending_with_the_safety_line(&m, q);
        }
        // Without anyone's sign, the article's words alone.
        let plain = m.reply("combien coûte le traitement ?", None);
        assert!(!plain.text.contains("112"), "{}", plain.text);
    }

    #[test]
    fn means_at_hand_with_despair_a_now_said_outright_and_an_if_without_a_person() {
        assert_emergencies(
            &[
                "J'ai un fusil à côté de moi. J'en peux plus de ma maladie.",
                "Standing on the roof ledge. Nobody can fix my liver. Sorry.",
                "est-ce grave si j'ai 40 de fièvre et que je grelotte depuis la perfusion ? c'est maintenant",
            ],
            &[
                "What's your protocol if a patient collapses during treatment at the clinic?",
                "c pas urgent mais j'ai un peu mal au côté droit depuis des mois, ça fait pas très mal",
                "Quels sont les signes qui doivent faire appeler le 112 quand on a une cirrhose ?",
                "J'en peux plus de ces démarches pour le remboursement, vous aidez pour les papiers ?",
            ],
        );
    }

    #[test]
    fn a_request_for_a_person_beside_a_warning_sign_names_112() {
        let m = Matcher::new(Arc::new(shipped()));
        let r = m.reply(
            "je voudrais parler à un conseiller, mon père a les yeux jaunes depuis hier",
            None,
        );
        assert_eq!(r.kind, ReplyKind::Handoff);
        assert!(r.text.contains("112"), "{}", r.text);
        let plain = m.reply("je voudrais parler à un conseiller", None);
        assert_eq!(plain.kind, ReplyKind::Handoff);
        assert!(!plain.text.contains("112"), "{}", plain.text);
    }

    #[test]
    fn chills_with_fever_a_small_child_with_pills_and_a_fall_are_emergencies() {
        assert_emergencies(
            &[
                "J'ai reçu la perfusion hier, là je grelotte et j'ai 40,2 de fièvre",
                "My toddler swallowed some of grandma's pills, we don't know how many",
                "je suis tombée dans ma salle de bain, je n'arrive pas à me relever",
                "ma mamie est tombée dans les escaliers et elle saigne de la tête",
            ],
            &[
                "Mon hépatologue m'a dit que si je vomis du sang je dois appeler le 15 tout de suite. Le traitement réduit-il ce risque ?",
                "If I get confused or very drowsy after going home, should I call you or go to the ER?",
                "Ma sœur a été aux urgences en mars pour une pancréatite. Vous traitez le pancréas ?",
            ],
        );
    }

    #[test]
    fn asking_which_emergency_number_to_keep_is_no_emergency_calling_one_is() {
        assert_emergencies(
            &[
                "bsr mn fr a fé un malaiz, il é tombé il se reveil pa",
                "appelez une ambulance mon père ne respire plus",
            ],
            &[
                "En Suisse c'est le 144 ou le 112 pour une ambulance ? Je prépare une fiche à coller sur le frigo de ma mère.",
                "Is 112 the right number in the UK or should I write 999? I'm making an emergency card for my mum.",
            ],
        );
    }

    #[test]
    fn a_reassurance_or_a_recovery_beside_a_history_is_no_emergency() {
        assert_emergencies(
            &[
                // Better, but nothing says it is over: still 112.
                "il vomit du sang mais ça va mieux",
                "le médecin a dit que c'était normal mais là il vomit du sang maintenant",
            ],
            &[
                "Mon fils a des selles noires quand il prend son fer, le pédiatre dit que c'est normal.",
                "Je me suis évanoui hier, le médecin m'a vu, ça va mieux. Combien coûte le traitement ?",
                "My sister had black stools once when she was on iron tablets, the doctor said it was totally normal.",
            ],
        );
    }

    #[test]
    fn fainting_feared_or_supposed_is_not_an_emergency_but_a_sign_beside_it_is() {
        assert_emergencies(
            &[
                "j'ai peur de m'évanouir, je vomis du sang depuis ce matin",
                "I'm afraid of fainting, my stools are black since yesterday",
                "je vais m'évanouir",
            ],
            &[
                "j'ai peur de m'évanouir pendant l'intervention, ça arrive souvent ?",
                "Si je perds connaissance pendant l'injection, qu'est-ce qui se passe ?",
                "what happens if I faint during the procedure?",
                "blood in stool, is that a sign of cirrhosis? asking for my biology class",
            ],
        );
    }

    #[test]
    fn signs_told_in_everyday_words_are_emergencies_and_figures_of_speech_are_not() {
        assert_emergencies(
            &[
                "je viens d'avaler une trentaine de doliprane",
                "I cut my hand really deep, there is blood everywhere",
                "mon frère a la bave aux lèvres et il tremble par terre",
                "je sens plus mon bras droit et j'arrive plus à parler",
                "il y a deux ans il a eu une hémorragie, et là il recommence à cracher du sang",
                "je suis au bord du pont",
                "il est délirant depuis ce matin",
            ],
            &[
                "vos prix c'est à tomber dans les pommes ! des facilités de paiement ?",
                // "délirants" is "délire"'s stem; "out of it" a confusion variant.
                "vos prix sont délirants, vous faites des facilités ?",
                "you don't come out of it running a fever, do you?",
                "Your prices nearly made me faint, do you offer payment plans?",
                "Dans le film, le héros s'effondre en crachant du sang, ça existe vraiment ?",
                "Is it normal to have black stools with iron pills? I start them next week",
                "mon père a vomi du sang il y a deux ans, les cellules souches peuvent-elles éviter que ça recommence ?",
                "quand j'avais 8 ans j'ai eu une hépatite avec les yeux jaunes et de la fièvre, des séquelles ?",
            ],
        );
    }

    #[test]
    fn a_birth_a_bleeding_pregnancy_a_burn_and_despair_on_a_roof_are_emergencies() {
        assert_emergencies(
            &[
                "ma soeur est enceinte de huit mois et elle saigne beaucoup",
                "she's 30 weeks pregnant and she's gone grey, she can't stand",
                "on est dans la voiture et le bébé arrive, je vois la tête du bébé",
                "il a glissé, sa tête a tapé le trottoir et maintenant il voit double",
                "mon fils a mis la main sur le four, la peau est partie sur toute la paume",
                "I'm on the roof of my building and nothing matters anymore",
                "y'a le feu dans la cuisine, mon grand-père est coincé par les flammes",
                "ça sent fort le gaz dans l'appartement et ma fille a mal à la tête, elle vomit",
                "it feels like an elephant sitting on my chest and it goes into my jaw",
                "grandma collapsed, she isn't answering and her lips look blue",
            ],
            &[
                "je suis enceinte, puis-je faire la thérapie par cellules souches ?",
                "ma fille accouche en mars, le bébé arrive au printemps : la consultation peut attendre ?",
                "Je ne suis pas en train de faire un malaise, je voulais juste le prix",
                "Quand faut-il aller aux urgences quand on a une cirrhose ?",
                "dans mon jeu vidéo mon perso perd tout son sang, sinon vous ouvrez le lundi ?",
                "Hier aux urgences on m'a fait une ponction, tout s'est bien passé, je suis rentré ce matin",
            ],
        );
    }

    #[test]
    fn a_colouring_food_a_vagal_faint_and_a_case_study_are_no_emergency_a_rope_is() {
        assert_emergencies(
            &[
                "mon frère dit qu'il ne veut plus vivre et il a chargé son fusil de chasse",
                "my son has been planning to hang himself, I found the rope under his bed",
                "she's 34 weeks pregnant with blurred vision and a pounding head since lunch",
                "ma voisine m'a appelée il y a quelques minutes, elle ne voit plus rien d'un oeil",
                "il a touché un fil dénudé et il est par terre",
                "I'm coughing up pink frothy stuff and I can't breathe lying down",
                "mon ventre est dur comme de la pierre depuis une heure",
                "my dad's grey and sweaty and says his chest feels odd",
            ],
            &[
                "j'ai mangé de la betterave hier et mes selles sont rouges, c'est le foie ?",
                "after the Pepto my poop is black, I feel fine, can I still book?",
                "I had a vasovagal... non: j'ai fait un malaise vagal à la prise de sang, tout va bien",
                "For my nursing course I'm writing a case study about a patient vomiting blood",
                "Mon oncle vomissait du sang avant sa greffe, il est en pleine forme depuis",
                "Mon père est en soins intensifs pour une hémorragie, les médecins gèrent",
            ],
        );
    }

    #[test]
    fn withdrawal_chills_with_jaundice_and_a_sign_beside_just_asking_are_emergencies() {
        assert_emergencies(
            &[
                "mon père est en sevrage depuis hier et il tremble de partout",
                "she's yellow and shaking uncontrollably under two blankets",
                "il est devenu tout blanc d'un coup après le repas",
                "mon voisin voit des gens qui ne sont pas là dans son salon",
                "c'est juste pour savoir, mon mari, sa bouche est de travers depuis 10 minutes",
                "ma fille a avalé mes cachets, je sais pas combien",
                "faut s'inquiéter si mon frère ne se réveille pas ? il a bu avec ses somnifères",
                "my brother had a fit, he bit his tongue and now he's lost",
                "pregnant and seeing flashing lights with a terrible headache",
            ],
            &[
                "je suis souvent somnolente l'après-midi, est-ce le foie ?",
                "J'ai bu pendant 20 ans, j'ai arrêté depuis un an, la thérapie est-elle possible ?",
                "She was hospitalized with jaundice and fever last spring; she has recovered, can she apply?",
                "Un résident a vomi du sang ce matin, le SAMU l'a emmené tout de suite. Et votre thérapie ?",
                "c'est juste pour savoir : quel âge maximum pour la thérapie ?",
            ],
        );
    }

    #[test]
    fn everyday_words_near_a_sign_s_variants_raise_no_alarm() {
        assert_emergencies(
            &[
                "ma fille a pris mes cachets pour le coeur, je sais pas combien",
                "on est sur le parking, ma femme pousse toute seule et je vois la tête du bébé",
            ],
            &[
                "mon fils a voulu sauter du toit de la cabane avec un parapluie, il va bien",
                "le cordon de la lampe sort du mur, vous avez un électricien ?",
                "je m'embrouille avec tous ces formulaires maintenant, vous pouvez m'aider ?",
                "la pièce tourne autour de la table, c'est joli chez vous",
                "ma tension est à 12/8 ce matin, c'est bien pour l'injection ?",
                "my heart rate was 150 during the match yesterday, back to normal now",
                "j'ai 40 ans et le coeur en bonne santé, je peux venir ?",
                "depuis 20 minutes j'attends votre réponse, vous êtes là ?",
                "stung by a bee last summer, can I still have the injection?",
                "my cousin spent 3 days in the ICU last year, now she's fine",
                "le dossier fait 140 pages, le coeur du sujet c'est le prix ?",
                "my ankles are puffing up in the evening, is it the liver?",
                "the price just dropped? can I book now?",
                "le bébé fait ses dents et bave beaucoup, c'est normal ?",
                "mes jambes sautent la nuit, c'est le foie ?",
                "mon mari il dit rien sur sa maladie, je m'inquiète",
                "mon foie est dur comme de la pierre à l'échographie, la thérapie peut-elle aider ?",
                "j'ai ouvert le gaz pour faire à manger, une question sur le prix",
                "j'ai pris rendez-vous mais je sais pas combien ça coûte",
                "He's a live wire, can my son do the therapy?",
                "my pills are ready at the pharmacy, when can I start?",
                "will the stem cells hurt the baby if I'm pregnant?",
                "I typed the words wrong, sorry: how much is it?",
                "une douleur dentaire qui va jusque dans la mâchoire, c'est le foie ?",
                "The price was like being hit with a hammer",
                "je sens la tête qui tourne un peu après le repas",
                "ma mère s'est cassé le col du fémur, peut-elle faire la thérapie ?",
                "mon oncle voit des gens qui ont fait la thérapie, ça marche ?",
                "il me prend pour sa bonne depuis que je m'occupe de lui, et le prix ?",
                "je me suis mordu la langue en mangeant, rien à voir mais c'est combien ?",
                "mon dos est devenu tout raide après le jardinage, la thérapie aide ?",
                "my face dropped when I saw the price",
                "the gel is cold to the touch, is that normal?",
                "j'ai acheté une corde d'escalade pour les vacances, vous êtes ouverts en août ?",
                "j'étouffe sous la paperasse de la mutuelle, vous pouvez m'aider ?",
                "la bourse s'effondre mais on a le budget pour la thérapie",
                "I nearly choked on my tea when I saw the flight prices",
                "I'm drowning in paperwork, can you send the form by email?",
                "ma tête va exploser avec toutes ces démarches",
                "mon fils est sapeur-pompier, il voudrait savoir comment ça marche",
                "votre hotline c'est le 112 de la paperasse, merci à vous !",
                "la mutuelle, un vrai cadeau empoisonné ! vous acceptez les virements ?",
                "quitting my job now would be career suicide, so can I book a Saturday?",
                "j'ai cramé le gâteau, de la fumée partout dans la cuisine, bref : vos horaires ?",
                "the 112 bus from the airport, does it stop at your clinic?",
                "I almost fainted at the price, do you offer instalments?",
                "ma soeur dit que c'est du poison, je lui ai dit qu'elle raconte n'importe quoi",
                "je fais un stage aux urgences et un médecin m'a parlé de vous",
            ],
        );
    }

    #[test]
    fn a_laughing_message_is_a_figure_of_speech_unless_pills_a_relative_or_now() {
        assert_emergencies(
            &[
                "mdr j'ai avalé une trentaine de cachets, ça va aller ?",
                "je vais me tuer ce soir, j'en peux plus",
                "ma mère a une cirrhose, elle croit qu'on est en 1990 et ne me reconnaît plus",
                "mon pote s'est évanoui lol il se réveille pas",
                "lol je vomis du sang depuis ce matin",
            ],
            &[
                "je vais faire une crise cardiaque en voyant la facture lol",
                "I'm gonna pass out waiting for your reply 😂",
                "appelez le SAMU, votre formulaire m'a achevé 😅",
                "my wallet is bleeding after that quote, any discounts?",
                "je suis maître nageur, je fais du secourisme l'été, vous recrutez ?",
                "mes parents vont me tuer si je rate mes exams, bref : c'est quoi un hépatocyte ?",
                "c'est l'overdose de pubs pour les cellules souches, c'est vous ?",
                "je fabrique des selles noires pour chevaux, les chevaux aussi ont des cellules souches ?",
                "je viens de voir le documentaire sur les pompiers de Paris, qui a fondé la clinique ?",
                "j'ai fait un malaise en voyant le devis de la cuisine, des facilités de paiement ?",
                "on a eu une formation premiers secours : hémorragie, étouffement. Des fiches ?",
                "is it true that paracetamol overdose is the leading cause of liver failure?",
                "pour mon QCM : cirrhose et selles noires, on pense aux varices ?",
                "not for the faint-hearted, your prices! what's included?",
                "I just built black bar stools for the kitchen, are you open Saturday?",
                "mon patron a tiré sur l'ambulance toute la journée, bref : vos horaires ?",
                "a documentary on the collapse of the Soviet Union, then your article: how long is a stay?",
                "notre PME a une hémorragie de clients, je dois faire vite : le séjour dure combien ?",
                "avec l'effondrement de la livre, vous acceptez les dollars ?",
                "an asset seizure last year, do you still offer payment plans?",
                "pick your poison: pay by card or by transfer?",
                "I work at a poison control center: have stem cells been studied after acetaminophen liver injury?",
                "the ambulances in Serbia, are they free for foreigners? I'm reading guides right now",
            ],
        );
    }

    #[test]
    fn an_alarming_vital_sign_told_as_a_number_is_a_sign_beside_another_or_now() {
        assert_emergencies(
            &[
                "Ma tension est à 6/4 et je suis en sueur, j'ai une douleur brutale à gauche",
                "mon tensiomètre affiche 80/50 et j'ai la tête qui tourne",
                "BP 75 over 40 and he's going pale",
                "fréquence cardiaque 180 au repos depuis 25 min, je suis essoufflé",
                "his watch says pulse 135 and he's really pale",
                "le coeur à 140 et 40 de fièvre avec des frissons",
                "sa saturation est à 84 maintenant",
                "mon lecteur affiche 0,38, je suis en sueur et je vois flou",
            ],
            &[
                "j'ai toujours eu une tension basse, 9/6, est-ce un problème pour le traitement ?",
                "ma tension est à 8/5 d'habitude, je peux faire l'injection ?",
                "my watch showed 178 bpm during my intervals this morning, back to 60 after 5 min",
                "SpO2 88% last night while she was sleeping, then 97% when she woke up",
                "mon père a 85 ans, sa tension est bonne, il peut venir ?",
                "le coeur de 140 patients a été suivi dans l'étude ?",
                "pouls à 140 pendant mon footing, c'est normal ?",
                "ma glycémie était à 0,45 une fois l'an dernier, est-ce un problème ?",
            ],
        );
    }

    #[test]
    fn a_baby_s_age_in_days_or_weeks_is_a_newborn_s() {
        assert_emergencies(
            &[
                "mon bebe de 10 jours a 38.5 de fievre",
                "my 5 week old has a fever of 38.4",
                "a 10-day-old with a fever of 38.6, what do we do?",
            ],
            &[
                "ma fille de 10 ans a 38,5 de fièvre depuis 3 jours, elle joue",
                "mon bébé de 10 mois a 38,2 de fièvre, il fait ses dents",
                "le traitement dure 10 jours ?",
            ],
        );
    }

    #[test]
    fn emojis_that_say_a_sign_or_a_cry_for_help_are_read_as_words() {
        assert_emergencies(
            &["🚨🩸🤮 urgent", "🆘🆘 foie... sang", "🩸🤮 help"],
            &[
                "merci 🙏 pour les infos sur la cirrhose",
                "🩸 don du sang : je peux donner après le traitement ?",
                "trop bien votre article 🚀",
            ],
        );
    }

    #[test]
    fn minutes_or_hours_counted_back_from_now_are_going_on() {
        assert_emergencies(
            &[
                "ça serre dans la poitrine depuis 20 min et j'arrive plus à respirer lol",
                "j'ai vomi du sang ya 2h",
                "throwing up blood for the last hour",
                "il a perdu connaissance il y a vingt minutes",
                "my nose won't stop bleeding, it's been over an hour and I'm dizzy",
                "mon fils de 6 ans a avalé des comprimés de la boîte, peut-être 10",
            ],
            &[
                "il y a 2 heures de route jusqu'à la clinique, y a-t-il un hôtel ?",
                "la perfusion dure 2 heures ?",
                "do I need to fast for 12 hours before the blood test?",
            ],
        );
    }

    #[test]
    fn naming_the_emergency_services_is_an_emergency_only_when_calling_or_now() {
        assert_emergencies(
            &[
                "appelez une ambulance",
                "une ambulance vite svp",
                "faut-il appeler le samu ? il respire mal",
                "ambulance now, my dad collapsed",
                "j'appelle les pompiers ou pas ? elle ne se réveille pas",
                "mamie a des sueurs froides et mal au ventre depuis le dîner",
            ],
            &[
                "mon mari est médecin au SAMU, il a lu votre article",
                "in Serbia is the emergency number 112 like in the EU?",
                "je ne veux pas tirer sur l'ambulance mais votre site a des fautes",
                "le site fait des convulsions quand je clique sur réserver",
                "question de cours : pourquoi la confusion dans l'encéphalopathie ?",
                "my team choked in the final again, are you open on Sunday?",
            ],
        );
    }

    #[test]
    fn too_many_pills_is_an_overdose_only_when_someone_took_them() {
        assert_emergencies(
            &[
                "il a pris trop de cachets",
                "I took a whole bottle of painkillers",
                "my mother took all her pills at once",
                "j'ai avalé toute la plaquette",
            ],
            &[
                "trop de comprimés à prendre après la thérapie ?",
                "faut-il arrêter tous mes médicaments avant la greffe ?",
                "will I have too many pills to take after the treatment?",
            ],
        );
    }

    #[test]
    fn a_count_of_pills_taken_is_an_overdose_from_ten_on() {
        assert_emergencies(
            &[
                "j'ai pris 20 comprimés de paracétamol il y a une heure",
                "I took about 30 paracetamol tablets earlier tonight",
                "elle a avalé quinze cachets",
            ],
            &[
                "j'ai pris 2 comprimés de paracétamol, c'est compatible avec le traitement ?",
                "faudra-t-il prendre 20 comprimés par jour après la thérapie ?",
            ],
        );
    }

    #[test]
    fn a_temperature_with_its_decimal_is_a_fever() {
        assert_emergencies(
            &[
                "Mon mari tremble de partout, il a 39,8 et les yeux jaunes depuis cet après-midi",
                "elle est à 40.2 et elle est toute jaune",
            ],
            &["il a 39 ans et les yeux jaunes depuis des mois, le traitement peut aider ?"],
        );
    }

    #[test]
    fn an_sms_je_elided_before_a_verb_is_read() {
        let m = Matcher::new(Arc::new(shipped()));
        let r = m.reply("jcrache du sang depuis ce matin", None);
        assert_eq!(r.kind, ReplyKind::Emergency, "{}", r.text);
    }

    #[test]
    fn every_reply_without_an_answer_names_112_once() {
        let m = Matcher::new(Arc::new(shipped()));
        for (q, kind) in [
            // Out of scope, the article's fallback, a diagnosis request, a "did you mean".
            (
                "quelle est la recette de la tarte aux pommes ?",
                ReplyKind::Fallback,
            ),
            ("what is the weather like tomorrow?", ReplyKind::Fallback),
            (
                "je suis souvent fatigué, est-ce que j'ai une cirrhose ?",
                ReplyKind::Fallback,
            ),
        ] {
            let r = m.reply(q, None);
            assert_eq!(r.kind, kind, "{q}");
            let line = super::messages::safety_line(r.lang);
            assert!(r.text.ends_with(line), "{q}: {}", r.text);
        }
        let clarify = m.unsure(
            ReplyKind::Clarify,
            crate::Lang::Fr,
            0.4,
            Vec::new(),
            Vec::new(),
        );
        assert!(clarify
            .text
            .ends_with(super::messages::safety_line(crate::Lang::Fr)));
        // An answer is the article's words alone, unless the message names a warning sign;
        // an emergency names 112 once, in its own words.
        let answer = m.reply("Combien coûte le traitement ?", None);
        assert_eq!(answer.kind, ReplyKind::Answer);
        assert!(!answer.text.contains("112"));
        for q in [
            "est-ce que le traitement donne de la fièvre ?",
            "does the treatment cause fever?",
        ] {
            answer_ending_with_the_safety_line(&m, q);
            let why = m.explain(q, None).reason;
            assert!(why.contains("it names `fever`"), "{q}: {why}");
        }
        let emergency = m.reply("mon père vomit du sang", None);
        assert_eq!(emergency.kind, ReplyKind::Emergency);
        assert_eq!(
            emergency.text.matches("112").count(),
            1,
            "{}",
            emergency.text
        );
    }

    #[test]
    fn no_answer_beside_someone_s_sign_opens_with_the_safety_line() {
        let m = Matcher::new(Arc::new(shipped()));
        let held = m.reply("mon mari a les yeux jaunes depuis ce matin", None);
        assert_eq!(held.kind, ReplyKind::Fallback);
        let line = super::messages::safety_line(held.lang);
        assert!(held.text.starts_with(line), "{}", held.text);
        assert_eq!(held.text.matches("112").count(), 1, "{}", held.text);
        // A sign asked about, held by nobody: the line stays at the end.
        let asked = m.reply(
            "est-ce qu'on a souvent les yeux jaunes avec une hépatite ?",
            None,
        );
        assert_eq!(asked.kind, ReplyKind::Clarify);
        assert!(asked.text.ends_with(line), "{}", asked.text);
    }

    #[test]
    fn a_question_word_around_the_bots_name_is_still_small_talk() {
        let m = Matcher::new(Arc::new(shipped()));
        // `who_are_you` has `along = ["definition"]`.
        assert_eq!(
            m.reply("C'est quoi ton petit nom, toi ?", None).kind,
            ReplyKind::Smalltalk
        );
        assert_eq!(
            m.reply("c'est quoi un chatbot ?", None).kind,
            ReplyKind::Smalltalk
        );
        assert_eq!(
            m.reply("c'est quoi la cirrhose ?", None).kind,
            ReplyKind::Answer
        );
    }

    #[test]
    fn an_unclear_language_goes_to_the_one_whose_knowledge_reads_more() {
        let m = Matcher::new(Arc::new(shipped()));
        // "re" is an English function word, but only French knows "re bonjour".
        let r = m.reply("re bonjour", None);
        assert_eq!((r.kind, r.lang), (ReplyKind::Smalltalk, crate::Lang::Fr));
        let r = m.reply("hiya", None);
        assert_eq!((r.kind, r.lang), (ReplyKind::Smalltalk, crate::Lang::En));
    }

    #[test]
    fn a_person_named_alone_asks_for_one() {
        let m = Matcher::new(Arc::new(shipped()));
        let kind = |q: &str| m.reply(q, None).kind;
        for q in [
            "agent",
            "humain ?",
            "conseiller svp",
            "bonjour, un conseiller",
            "human",
        ] {
            assert_eq!(kind(q), ReplyKind::Handoff, "{q}");
        }
        // Asked about the bot, or with something else asked: not a request.
        for q in ["êtes-vous humain ?", "are you a human?"] {
            assert_eq!(kind(q), ReplyKind::Smalltalk, "{q}");
        }
        assert_ne!(
            kind("avez-vous des conseillers en France ?"),
            ReplyKind::Handoff
        );
    }

    #[test]
    fn a_rules_only_concept_leaves_its_words_to_matching() {
        let m = Matcher::new(Arc::new(shipped()));
        // `just_asking` is `rules_only`: the rules see it, matching reads "curiosité" itself.
        let e = m.explain(
            "par curiosité, combien coûte le traitement ?",
            Some(crate::Lang::Fr),
        );
        assert!(
            e.analysis.concepts.iter().any(|c| c == "just_asking"),
            "{:?}",
            e.analysis.concepts
        );
        assert!(
            !e.terms.iter().any(|t| t.contains("just_asking")),
            "{:?}",
            e.terms
        );
        assert!(
            e.terms.iter().any(|t| t.starts_with("curios")),
            "{:?}",
            e.terms
        );
        // A `topic = false` concept is seen by the rules and not matched at all.
        let e = m.explain(
            "mon mari veut savoir combien coûte le traitement",
            Some(crate::Lang::Fr),
        );
        assert!(e.analysis.concepts.iter().any(|c| c == "relative"));
        assert!(!e
            .terms
            .iter()
            .any(|t| t.contains("relative") || t.starts_with("mari")));
    }

    #[test]
    fn a_diagnosis_is_never_answered_from_the_article() {
        let m = Matcher::new(Arc::new(shipped()));
        for q in [
            "je suis souvent fatigué, est-ce que j'ai une cirrhose ?",
            "j'ai fait une prise de sang, mes gamma GT sont à 150, c'est grave ?",
            "do I have fatty liver?",
        ] {
            let r = m.reply(q, None);
            assert_eq!(r.kind, ReplyKind::Fallback, "{q}");
            assert_eq!(r.intent.as_deref(), Some("diagnosis"), "{q}");
        }
        // A question about the disease in general is answered.
        let r = m.reply("qu'est-ce qu'une cirrhose ?", None);
        assert_eq!(r.kind, ReplyKind::Answer);
    }

    #[test]
    fn courtesy_goes_with_thanks_and_stays_in_a_question() {
        let m = Matcher::new(Arc::new(shipped()));
        for q in [
            "merci pour votre aide, bonne journée",
            "bonjour à tous",
            "Je vous remercie pour ces informations et vous souhaite une excellente journée.",
            "thanks so much for your help",
        ] {
            assert_eq!(m.reply(q, None).kind, ReplyKind::Smalltalk, "{q}");
        }
        // Without a thanks or a greeting, "aide" is a word of the question.
        assert!(!m
            .terms("j'ai besoin d'aide", crate::text::Lang::Fr)
            .is_empty());
        assert!(m
            .terms("merci pour votre aide", crate::text::Lang::Fr)
            .is_empty());
    }

    #[test]
    fn the_reply_with_its_terms_is_the_reply_and_the_terms_asked_apart() {
        let m = Matcher::new(Arc::new(shipped()));
        for q in [
            "bonjour, combien coûte le traitement ?",
            "c koi la cirrhose",
            "hi, what is cirrhosis?",
            "merci beaucoup",
            "quelle est la recette de la tarte aux pommes ?",
        ] {
            let (reply, terms) = m.reply_with_terms(q);
            assert_eq!(reply, m.reply(q, None), "{q}");
            assert_eq!(terms, m.terms(q, reply.lang), "{q}");
        }
    }

    #[test]
    fn a_closing_courtesy_that_asks_nothing_is_small_talk_whatever_its_topic_words() {
        let m = Matcher::new(Arc::new(shipped()));
        for (q, intent) in [
            (
                "merci pour ces infos sur la cirrhose, c'est plus clair",
                "thanks",
            ),
            (
                "ok je vais en parler à mon hépatologue, bonne soirée",
                "goodbye",
            ),
            ("ok noted about the cost, thanks", "thanks"),
        ] {
            let r = m.reply(q, None);
            assert_eq!(r.kind, ReplyKind::Smalltalk, "{q}");
            assert_eq!(r.intent.as_deref(), Some(intent), "{q}");
        }
        // Asked, even without a question mark; and a greeting has no `closing`.
        assert_kind(
            ReplyKind::Smalltalk,
            &[],
            &[
                "merci, et pour la stéatose ?",
                "merci mais combien coûte le traitement",
                "thanks, and is it safe for someone with hepatitis B?",
                "bonjour, combien coûte le traitement",
            ],
        );
    }

    #[test]
    fn a_contact_told_of_is_no_request_but_a_request_after_it_is() {
        assert_kind(
            ReplyKind::Handoff,
            &[
                "j'ai déjà eu la consultation, je voudrais parler à un conseiller",
                "mon médecin m'a dit de vous appeler, pouvez-vous me rappeler ?",
                "I already had a call, can someone call me back?",
            ],
            &[
                "I already had a video call with one of your doctors, how soon do results usually show?",
                "je ne veux pas qu'on me rappelle, dites-moi seulement où se trouve la clinique",
                "si je prends rendez-vous, est-ce que je dois venir avec mes analyses ?",
            ],
        );
    }

    #[test]
    fn booking_is_a_handoff_but_a_contact_to_come_is_not() {
        let m = Matcher::new(Arc::new(shipped()));
        for q in [
            "comment prendre rendez-vous ?",
            "how do I book the free consultation?",
            "visio possible avec le médecin ?",
        ] {
            assert_eq!(m.reply(q, None).kind, ReplyKind::Handoff, "{q}");
        }
        let r = m.reply(
            "avant de parler à un conseiller, j'aimerais une idée du prix",
            None,
        );
        assert_ne!(r.kind, ReplyKind::Handoff);
    }

    #[test]
    fn the_part_asked_is_matched_and_the_whole_message_goes_to_the_rules() {
        let m = Matcher::new(Arc::new(shipped()));
        let entry = |q: &str| m.reply(q, None).faq_id;
        assert_eq!(
            entry("Je sais déjà que c'est à Belgrade et que c'est sûr. Ma question : combien ça coûte ?")
                .as_deref(),
            Some("cout")
        );
        assert_eq!(
            entry("Oubliez le prix pour l'instant : elle est où, votre clinique ?").as_deref(),
            Some("clinique_lieu")
        );
        // An emergency in the part set aside still gets 112.
        let r = m.reply(
            "je sais déjà que mon père vomit du sang. Ma question : combien ça coûte ?",
            None,
        );
        assert_eq!(r.kind, ReplyKind::Emergency);
    }
}
