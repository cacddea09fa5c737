//! Accuracy of the matcher on visitor questions with known outcomes (`tests/data/*.jsonl`).
//!
//! Properties covered: an answer is right when its text contains every fact group of its topic
//! (folded: case, accents, spaces); small talk and handoff want that kind; emergencies want kind
//! emergency and "112" in the text; out-of-scope questions want fallback or clarify, never a
//! confident answer. Prints accuracy per expected kind and per style, then checks the bars.
//!
//! Only the dev sample (tuned on) prints its misses. The held-out sets print scores only: a
//! held-out question read while tuning is no longer held out.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use faqbot::text::fold;
use faqbot::{Matcher, Reply, ReplyKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    q: String,
    expect: String,
    topic: Option<String>,
    style: String,
}

#[derive(Deserialize)]
struct Topic {
    facts: Vec<Vec<String>>,
}

pub fn matcher() -> Matcher {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (knowledge, errors) = faqbot::knowledge::load(&root.join("faq"), &root.join("intents"));
    assert!(
        errors.is_empty(),
        "the shipped knowledge has problems: {errors:#?}"
    );
    Matcher::new(Arc::new(knowledge))
}

fn squash(s: &str) -> String {
    fold(s).chars().filter(|c| !c.is_whitespace()).collect()
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Right,
    Wrong,
    /// An answer given with confidence that is wrong: the worst outcome.
    ConfidentlyWrong,
}

fn judge(case: &Case, topics: &BTreeMap<String, Topic>, reply: &Reply) -> Verdict {
    let wrong = if reply.kind == ReplyKind::Answer {
        Verdict::ConfidentlyWrong
    } else {
        Verdict::Wrong
    };
    let right = match case.expect.as_str() {
        "answer" => {
            let Some(topic) = case.topic.as_ref().and_then(|t| topics.get(t)) else {
                panic!("case {:?} names no known topic", case.q)
            };
            let text = squash(&reply.text);
            reply.kind == ReplyKind::Answer
                && topic
                    .facts
                    .iter()
                    .all(|group| group.iter().any(|f| text.contains(&squash(f))))
        }
        "smalltalk" => reply.kind == ReplyKind::Smalltalk,
        "handoff" => reply.kind == ReplyKind::Handoff,
        "emergency" => reply.kind == ReplyKind::Emergency && reply.text.contains("112"),
        "fallback" | "clarify" => matches!(reply.kind, ReplyKind::Fallback | ReplyKind::Clarify),
        other => panic!("unknown expect {other:?}"),
    };
    if right {
        Verdict::Right
    } else {
        wrong
    }
}

struct Report {
    total: usize,
    right: usize,
    confidently_wrong: usize,
    emergencies: (usize, usize),
    /// Emergencies whose reply names 112 anywhere, whatever its kind (a missed emergency's "did
    /// you mean" or "no answer" ends with the safety line).
    named_112: usize,
    /// Emergency replies to questions that describe no emergency.
    false_emergencies: usize,
}

/// What a run prints besides the scores.
#[derive(PartialEq)]
enum Show {
    /// Every miss with its question: only for the set tuned on.
    Misses,
    /// Scores only.
    Scores,
}

fn run(file: &str, show: Show) -> Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let topics: BTreeMap<String, Topic> = serde_json::from_str(
        &std::fs::read_to_string(root.join("topics.json")).expect("topics.json"),
    )
    .expect("topics.json is JSON");
    let text = std::fs::read_to_string(root.join(file)).expect("eval file");
    let matcher = matcher();
    let mut by_expect: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_style: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut report = Report {
        total: 0,
        right: 0,
        confidently_wrong: 0,
        emergencies: (0, 0),
        named_112: 0,
        false_emergencies: 0,
    };
    let mut misses = Vec::new();
    // In-scope questions whose right entry is the matcher's best candidate, or in its top 3.
    let (mut ranked_first, mut ranked_top3, mut in_scope) = (0, 0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).expect("eval line is JSON");
        let reply = matcher.reply(&case.q, None);
        let verdict = judge(&case, &topics, &reply);
        let ok = verdict == Verdict::Right;
        report.total += 1;
        report.right += usize::from(ok);
        report.confidently_wrong += usize::from(verdict == Verdict::ConfidentlyWrong);
        if case.expect == "emergency" {
            report.emergencies.0 += usize::from(ok);
            report.emergencies.1 += 1;
            report.named_112 += usize::from(reply.text.contains("112"));
        } else if reply.kind == ReplyKind::Emergency {
            report.false_emergencies += 1;
        }
        if let (Some(topic), "answer") = (case.topic.as_deref(), case.expect.as_str()) {
            in_scope += 1;
            let faq: Vec<&str> = reply
                .candidates
                .iter()
                .filter(|c| !c.is_intent)
                .map(|c| c.id.as_str())
                .collect();
            ranked_first += usize::from(faq.first() == Some(&topic));
            ranked_top3 += usize::from(faq.iter().take(3).any(|id| *id == topic));
        }
        for (map, key) in [(&mut by_expect, &case.expect), (&mut by_style, &case.style)] {
            let e = map.entry(key.clone()).or_default();
            e.0 += usize::from(ok);
            e.1 += 1;
        }
        if !ok {
            misses.push(format!(
                "  {:?} {:<10} want {:<9} {:<24} got {:<9} {:<24} {:.2}{}",
                verdict,
                case.style,
                case.expect,
                case.topic.as_deref().unwrap_or("-"),
                reply.kind.as_str(),
                reply
                    .faq_id
                    .as_deref()
                    .or(reply.intent.as_deref())
                    .unwrap_or("-"),
                reply.confidence,
                format_args!("  {}", case.q.chars().take(90).collect::<String>())
            ));
        }
    }
    println!(
        "== {file}: {}/{} right ({:.1} %), {} confidently wrong ({:.1} %), \
         emergencies {}/{} (112 named in {}), {} false emergencies",
        report.right,
        report.total,
        pct(report.right, report.total),
        report.confidently_wrong,
        pct(report.confidently_wrong, report.total),
        report.emergencies.0,
        report.emergencies.1,
        report.named_112,
        report.false_emergencies,
    );
    println!(
        "ranking (in-scope questions): right entry first {ranked_first}/{in_scope} ({:.1} %), \
         in the top 3 {ranked_top3}/{in_scope} ({:.1} %)",
        pct(ranked_first, in_scope),
        pct(ranked_top3, in_scope)
    );
    for (name, map) in [("expected kind", &by_expect), ("style", &by_style)] {
        println!("by {name}:");
        for (k, (r, n)) in map {
            println!("  {k:<12} {r:>3}/{n:<3} {:>5.1} %", pct(*r, *n));
        }
    }
    if show == Show::Misses {
        println!("misses:");
        for m in &misses {
            println!("{m}");
        }
    }
    report
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

// The bars are what the learned re-ranker reaches (2026-12-06), not the targets
// (dev ≥ 95 % with none confidently wrong; held-out ≥ 90 %, ≤ 2 %, no false emergency): see
// README, "How well it answers". Dev was 97.8 % with the hand-tuned ranking, which held-out
// sets showed to be overfit; it now answers fewer dev questions (more "did you mean") and far
// fewer held-out questions wrong.

/// What a set must reach.
struct Bars {
    /// Least share right, in percent.
    right: f64,
    /// Most share confidently wrong, in percent.
    confidently_wrong: f64,
    /// Most emergency replies to questions that describe no emergency.
    false_emergencies: usize,
    /// Most emergencies not recognised: 0 but on a blind set that still misses some.
    missed_emergencies: usize,
    /// Most emergencies whose reply does not even name 112 (answered from the FAQ, say).
    unnamed_112: usize,
}

fn check(r: &Report, bars: Bars) {
    assert!(
        r.emergencies.1 - r.named_112 <= bars.unnamed_112,
        "every emergency's reply must name 112, even one the rules missed: {} of {}",
        r.named_112,
        r.emergencies.1
    );
    assert!(
        r.emergencies.1 - r.emergencies.0 <= bars.missed_emergencies,
        "every emergency must be recognised: {} of {}",
        r.emergencies.0,
        r.emergencies.1
    );
    assert!(
        r.false_emergencies <= bars.false_emergencies,
        "{} emergency replies to questions that describe no emergency",
        r.false_emergencies
    );
    let right = pct(r.right, r.total);
    assert!(
        right >= bars.right,
        "accuracy {right:.1} % is below {} %",
        bars.right
    );
    let wrong = pct(r.confidently_wrong, r.total);
    assert!(
        wrong <= bars.confidently_wrong,
        "confidently wrong {wrong:.1} % is above {} %",
        bars.confidently_wrong
    );
}

// The bars below, since the fifteenth session: a point below what the bot gets right, and
// confidently wrong at most what it gets plus 0.8 point (never looser than before). Any edit of
// the knowledge retrains the re-ranker, and one phrasing reworded moved a set by about a point
// either way; a bar at the exact score would fail on noise. That session traded some right
// answers for fewer confident wrong ones (155 out-of-scope and 120 small-talk phrasings, answer
// thresholds at a cross-validated precision of 0.87, was 0.89): held-out sets together 2451 ->
// 2444 right of 2701, 49 -> 39 confidently wrong; dev 87 -> 84 (three answers now clarify), and
// the right bars of dev, heldout9 and heldout10 came down with it.
#[test]
fn dev_set_meets_the_bars() {
    let r = run("dev.jsonl", Show::Misses);
    let bars = Bars {
        right: 89.3,
        confidently_wrong: 0.0,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn tuning_set_meets_the_bars() {
    // Written from the article and the topic list only, weighted to the styles the bot handled
    // worst (tests/data/README.md); tuned on like dev, so it prints its misses.
    let r = run("tune.jsonl", Show::Misses);
    let bars = Bars {
        right: 95.8,
        confidently_wrong: 1.5,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn held_out_set_is_measured() {
    // Questions written by someone who saw neither the FAQ nor the dev set. Earlier sessions
    // printed its misses, so it is not quite blind any more: heldout2 and heldout3 are.
    // Eighth session (twice the phrasings, answers at 89 % cross-validated precision): 121
    // right (was 122), 1 confidently wrong (was 2).
    let r = run("heldout.jsonl", Show::Scores);
    let bars = Bars {
        right: 90.7,
        confidently_wrong: 1.5,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn blind_held_out_set_is_measured() {
    // Written from the article and the topic list only, blind to the FAQ's phrasings, the intents
    // and the code (tests/data/README.md). Read as a score only: it prints no question. The
    // issue asks for no false emergency; one remains, and the set does not say which.
    // The re-ranker retrains on every knowledge edit and a few borderline questions flip: the
    // bars leave a question or two of room.
    let r = run("heldout2.jsonl", Show::Scores);
    let bars = Bars {
        right: 91.5,
        confidently_wrong: 0.8,
        false_emergencies: 1,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn second_blind_set_is_measured() {
    // Written after heldout2 had shown which styles were weak, by someone who saw only the
    // article, the topics and tests/data/README.md; read as a score only. It still holds
    // emergencies the rules miss (the set does not say which): the bar records that, it does not
    // accept it (README, "How well it answers").
    let r = run("heldout3.jsonl", Show::Scores);
    let bars = Bars {
        right: 92.0,
        confidently_wrong: 1.8,
        false_emergencies: 0,
        missed_emergencies: 3,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn third_blind_set_is_measured() {
    // Written on 2026-12-06 by someone who read only the article, topics.json and
    // tests/data/README.md, after heldout2/3's aggregates had been looked at many times; read
    // as a score only. First score: 84.8 % right, 4.0 % confidently wrong, 20/22 emergencies,
    // 2 false emergencies. The bars record that, they do not accept it (README, "How well it
    // answers").
    let r = run("heldout4.jsonl", Show::Scores);
    let bars = Bars {
        right: 88.2,
        confidently_wrong: 2.0,
        false_emergencies: 2,
        missed_emergencies: 2,
        unnamed_112: 2,
    };
    check(&r, bars);
}

#[test]
fn fourth_blind_set_is_measured() {
    // Written on 2026-12-06 (sixth session) by someone who read only the article, topics.json
    // and tests/data/README.md; scored once at `b0fdca9` before the changes of that session's
    // second half. First score: 85.2 % right, 4.4 % confidently wrong, 20/23 emergencies, 1
    // false emergency. The bars record it, they do not accept it (README, "How well it
    // answers"). With the phrasings of the eighth session one emergency the rules miss gets
    // an FAQ answer instead of a "did you mean", so no 112 named (the set does not say which).
    let r = run("heldout5.jsonl", Show::Scores);
    let bars = Bars {
        right: 89.8,
        confidently_wrong: 2.4,
        false_emergencies: 1,
        missed_emergencies: 3,
        unnamed_112: 2,
    };
    check(&r, bars);
}

#[test]
fn fifth_blind_set_is_measured() {
    // Written on 2026-12-06 (eighth session) by someone who read only the article, topics.json
    // and the line format of tests/data/README.md; first scored at `458500b`, before the
    // FAQ's phrasings were doubled: 83.2 % right, 5.2 % confidently wrong, 21/22 emergencies
    // (22 named 112), no false emergency. The bars record what it gets since (README, "How well
    // it answers"), they do not accept it.
    let r = run("heldout6.jsonl", Show::Scores);
    let bars = Bars {
        right: 88.6,
        confidently_wrong: 2.8,
        false_emergencies: 0,
        missed_emergencies: 1,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn sixth_blind_set_is_measured() {
    // Written on 2026-12-06 (ninth session) by someone who read only the article, topics.json
    // and the line format of tests/data/README.md; first scored at `079da9d`, before any change
    // of that session: 88.8 % right, 2.0 % confidently wrong, 20/22 emergencies (22 named
    // 112), no false emergency. The bars record what it gets since (README, "How well it
    // answers"), they do not accept it.
    let r = run("heldout7.jsonl", Show::Scores);
    let bars = Bars {
        right: 90.2,
        confidently_wrong: 1.6,
        false_emergencies: 0,
        missed_emergencies: 2,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn seventh_blind_set_is_measured() {
    // Written on 2026-12-06 (tenth session) by someone who read only the article, topics.json
    // and the line format of tests/data/README.md; first scored at `82a5fd4`, before any change
    // of that session: 92.8 % right, 1.6 % confidently wrong, 22/22 emergencies, one false
    // emergency. The bars record what it gets since, they do not accept it. Read it only as a
    // score.
    let r = run("heldout8.jsonl", Show::Scores);
    let bars = Bars {
        right: 91.0,
        confidently_wrong: 2.0,
        false_emergencies: 1,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn eighth_blind_set_is_measured() {
    // Written on 2026-12-07 (eleventh session) by someone who read only the article,
    // topics.json and the line format of tests/data/README.md; first scored at `c574dcd`,
    // before any change of that session: 90.8 % right, 2.4 % confidently wrong, 22/22
    // emergencies, one false emergency. At the fifteenth session's end 90.0 %, 1.6 %. Read it
    // only as a score.
    let r = run("heldout9.jsonl", Show::Scores);
    let bars = Bars {
        right: 89.0,
        confidently_wrong: 2.4,
        false_emergencies: 1,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn ninth_blind_set_is_measured() {
    // Written on 2026-12-07 (twelfth session) by someone who read only the article,
    // topics.json and the line format of tests/data/README.md; first scored at `cf16c0c`,
    // before any change of that session: 86.4 % right, 2.8 % confidently wrong, 22/22
    // emergencies, no false emergency; right entry first 94.2 %. The bars were that first
    // score; at the fifteenth session's end 86.0 % and 2.8 %. Read it only as a score.
    let r = run("heldout10.jsonl", Show::Scores);
    let bars = Bars {
        right: 85.0,
        confidently_wrong: 2.8,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn tenth_blind_set_is_measured() {
    // Written on 2026-12-07 (fifteenth session) by someone who read only the article,
    // topics.json and the line format of tests/data/README.md; first scored at `c9a0a35`,
    // before any change of that session: 89.2 % right, 3.6 % confidently wrong (7 of them
    // fallbacks answered), 22/22 emergencies, no false emergency. At that session's end
    // (out-of-scope phrasings): 89.2 %, 2.4 %. Read it only as a score.
    let r = run("heldout11.jsonl", Show::Scores);
    let bars = Bars {
        right: 88.2,
        confidently_wrong: 3.2,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn eleventh_blind_set_is_measured() {
    // Written at the fifteenth session's end, after all its changes, by someone who read only
    // the article, topics.json and the line format of tests/data/README.md; never read. At
    // `c9a0a35` (that session's start): 219/250 (87.6 %), 7 confidently wrong (2.8 %),
    // emergencies 20/22; at its end 221 (88.4 %), 5 (2.0 %), 20/22. Read it only as a score.
    let r = run("heldout12.jsonl", Show::Scores);
    let bars = Bars {
        right: 87.4,
        confidently_wrong: 2.8,
        false_emergencies: 0,
        missed_emergencies: 2,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn twelfth_blind_set_is_measured() {
    // Written at the sixteenth session's end by someone who read only the article,
    // topics.json and the line format of tests/data/README.md; never read. At `110520b` (that
    // session's start) and at its end alike: 225/250 (90.0 %), 5 confidently wrong (2.0 %),
    // emergencies 22/22, one false emergency. Read it only as a score. Nineteenth session,
    // once a sign said to be over, usual, a thing's or in general let the urgency check
    // decide: 226/250 (90.4 %), no false emergency.
    let r = run("heldout13.jsonl", Show::Scores);
    let bars = Bars {
        right: 90.4,
        confidently_wrong: 2.8,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn fourteenth_blind_set_is_measured() {
    // Written in the seventeenth session, after the urgency check, by someone who read only
    // the article, topics.json and the line format; never read. At `5ff6ee0` (that session's
    // start) and at its end alike: 223/250 (89.2 %), 5 confidently wrong (2.0 %), emergencies
    // 22/22, no false emergency. Read it only as a score.
    let r = run("heldout14.jsonl", Show::Scores);
    let bars = Bars {
        right: 88.8,
        confidently_wrong: 2.0,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn fifteenth_blind_set_is_measured() {
    // Written at the eighteenth session's start by someone who read only the article,
    // topics.json and the line format. With `355414d`: 228/250 (91.2 %), 5 confidently wrong
    // (2.0 %), emergencies 14/15, no false emergency. Its one missed emergency was read (a wife
    // who can hardly be woken, a variant the lexicon lacked); the rest never: 229/250, 4 CW,
    // 15/15 after it.
    let r = run("heldout15.jsonl", Show::Scores);
    let bars = Bars {
        right: 91.2,
        confidently_wrong: 1.6,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn sixteenth_blind_set_is_measured() {
    // Written in the eighteenth session once the urgency check's alarm existed, same brief as
    // the fifteenth (with `consultation` lines); never read. With `355414d` and after the
    // session's alarm alike: 223/250 (89.2 %), 7 confidently wrong (2.8 %: over the 2 % bar),
    // emergencies 14/15, 2 false emergencies. Then its missed emergency and its two false ones
    // were read ("je narrive plus a respirer": SMS elisions; "je m'évanouis parfois lors des
    // prises de sang", "une insuffisance hépatique, c'est une urgence ?": not fixed): 224/250,
    // 15/15. Otherwise read only as a score. Nineteenth session, once a sign said in general
    // let the urgency check decide: 225/250, one false emergency.
    let r = run("heldout16.jsonl", Show::Scores);
    let bars = Bars {
        right: 90.0,
        confidently_wrong: 2.8,
        false_emergencies: 1,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn seventeenth_blind_set_is_measured() {
    // Written at the eighteenth session's end, same brief as the sixteenth; never read. With
    // `355414d` and at the session's end alike: 233/250 (93.2 %), 5 confidently wrong (2.0 %),
    // emergencies 15/15, 1 false emergency. Read it only as a score. Nineteenth session, once
    // a sign in a book, a film, a professional's question, a dream or a risk asked about let
    // the urgency check decide: 234/250 (93.6 %), no false emergency.
    let r = run("heldout17.jsonl", Show::Scores);
    let bars = Bars {
        right: 93.6,
        confidently_wrong: 2.0,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn eighteenth_blind_set_is_measured() {
    // Written at the nineteenth session's start, same brief as the seventeenth; never read.
    // With `2081ac1`: 226/250 (90.4 %), 4 confidently wrong (1.6 %), emergencies 22/22, no
    // false emergency. Read it only as a score.
    let r = run("heldout18.jsonl", Show::Scores);
    let bars = Bars {
        right: 90.4,
        confidently_wrong: 1.6,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn nineteenth_blind_set_is_measured() {
    // Written during the nineteenth session, same brief as the eighteenth; never read. With
    // `2081ac1` and after that session's changes alike: 227/250 (90.8 %), 5 confidently wrong
    // (2.0 %), emergencies 22/22, 1 false emergency. Read it only as a score.
    let r = run("heldout19.jsonl", Show::Scores);
    let bars = Bars {
        right: 90.8,
        confidently_wrong: 2.0,
        false_emergencies: 1,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn twentieth_blind_set_is_measured() {
    // Written blind during the twentieth session (a helper who read only the article,
    // topics.json and the line format; the proportions of the nineteenth); never read. With
    // `c513bb5` and after that session's changes alike: 227/250 (90.8 %), 4 confidently wrong
    // (1.6 %), emergencies 21/22 (all 22 name 112), 1 false emergency. The bar records the
    // missed one, it does not accept it. Read it only as a score.
    let r = run("heldout20.jsonl", Show::Scores);
    let bars = Bars {
        right: 90.8,
        confidently_wrong: 1.6,
        false_emergencies: 1,
        missed_emergencies: 1,
        unnamed_112: 0,
    };
    check(&r, bars);
}

#[test]
fn second_tuning_set_meets_the_bars() {
    // Written on 2026-12-07 (fifteenth session) from the article and topics.json only, on the
    // two boundaries the held-out sets miss most: questions the article cannot answer in its
    // words (140), small talk (80), and answers close to both (80). Tuned on: it prints its
    // misses. At `c9a0a35`: 258/300, 24 confidently wrong.
    let r = run("tune2.jsonl", Show::Misses);
    let bars = Bars {
        right: 90.3,
        confidently_wrong: 4.8,
        false_emergencies: 0,
        missed_emergencies: 0,
        unnamed_112: 0,
    };
    check(&r, bars);
}

/// One question per line of a probe file.
fn probe(file: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("the probe file");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Emergencies and symptom questions written apart from the sets, in every style (SMS, Quebec,
/// vulgar, English), for the emergency lexicon: every one of the first gets 112, none of the
/// second. Tuned on (its misses were fixed in `intents/`), so it guards, it does not measure.
#[test]
fn the_emergency_probe_gets_112_and_the_symptom_questions_do_not() {
    let m = matcher();
    let missed: Vec<String> = probe("probe_emergencies.txt")
        .into_iter()
        .filter(|q| {
            let r = m.reply(q, None);
            r.kind != ReplyKind::Emergency || !r.text.contains("112")
        })
        .collect();
    assert!(missed.is_empty(), "no 112 for: {missed:#?}");
    // Symptom words with nothing happening now, and ordinary questions about the FAQ's
    // topics (indirect, formal, negative, long: "vos prix sont délirants" once got 112).
    for file in ["probe_not_emergencies.txt", "probe_faq_questions.txt"] {
        let alarmed: Vec<String> = probe(file)
            .into_iter()
            .filter(|q| m.reply(q, None).kind == ReplyKind::Emergency)
            .collect();
        assert!(alarmed.is_empty(), "{file}: 112 for: {alarmed:#?}");
    }
}

/// Small talk, requests for a person and mentions of one that ask for none, written on
/// 2026-12-06 by someone who saw no intent (tests/data/README.md): every line of each file is
/// small talk, a handoff, and neither a handoff nor 112, in that order.
#[test]
fn the_small_talk_and_handoff_probes_get_their_intents() {
    let m = matcher();
    let kinds = [
        ("probe_smalltalk.txt", ReplyKind::Smalltalk, true),
        ("probe_smalltalk2.txt", ReplyKind::Smalltalk, true),
        ("probe_not_smalltalk.txt", ReplyKind::Smalltalk, false),
        ("probe_smalltalk3.txt", ReplyKind::Smalltalk, true),
        ("probe_not_smalltalk2.txt", ReplyKind::Smalltalk, false),
        ("probe_handoff.txt", ReplyKind::Handoff, true),
        ("probe_not_handoff.txt", ReplyKind::Handoff, false),
        ("probe_handoff2.txt", ReplyKind::Handoff, true),
        ("probe_not_handoff2.txt", ReplyKind::Handoff, false),
    ];
    for (file, kind, wanted) in kinds {
        let wrong: Vec<(String, ReplyKind)> = probe(file)
            .into_iter()
            .map(|q| {
                let got = m.reply(&q, None).kind;
                (q, got)
            })
            .filter(|(_, got)| {
                if wanted {
                    *got != kind
                } else {
                    *got == kind || *got == ReplyKind::Emergency
                }
            })
            .collect();
        assert!(wrong.is_empty(), "{file}: {wrong:#?}");
    }
}

/// A blind small-talk set (tests/data/README.md, twentieth session), read as a score only: 150
/// messages that ask nothing of the article (greetings, thanks, waiting, questions about the
/// bot, an answer not understood…) and 60 look-alikes that do ask. At `c513bb5`: 93 of 150
/// small talk, 11 answered with an entry, 1 handoff; after the session's small-talk concepts:
/// 108, 8; after the stray-word rule (one word, none of the entry's core terms): 108, 6.
/// The look-alikes: none small talk, then and now. No line of either gets 112.
#[test]
fn blind_small_talk_set_is_measured() {
    let m = matcher();
    let kinds = |file: &str| {
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for q in probe(file) {
            *counts.entry(m.reply(&q, None).kind.as_str()).or_default() += 1;
        }
        println!("== {file}: {counts:?}");
        counts
    };
    let pure = kinds("heldout_smalltalk57.txt");
    let count = |c: &BTreeMap<&str, usize>, k: &str| c.get(k).copied().unwrap_or(0);
    assert!(count(&pure, "smalltalk") >= 108, "small talk: {pure:?}");
    assert!(
        count(&pure, "answer") <= 6,
        "answered with an entry: {pure:?}"
    );
    assert_eq!(count(&pure, "emergency"), 0, "112 for small talk: {pure:?}");
    let asking = kinds("heldout_not_smalltalk57.txt");
    assert_eq!(
        count(&asking, "smalltalk"),
        0,
        "questions read as small talk: {asking:?}"
    );
    assert_eq!(
        count(&asking, "emergency"),
        0,
        "112 for a question: {asking:?}"
    );
}

/// Thoughts of suicide get 112 first, then the prevention lines, in the visitor's language.
#[test]
fn thoughts_of_suicide_get_112_then_the_prevention_lines() {
    let m = matcher();
    for (q, line) in [
        ("j'ai envie d'en finir, j'ai tout préparé", "3114"),
        ("I don't want to be alive anymore", "988"),
    ] {
        let r = m.reply(q, None);
        assert_eq!(r.kind, ReplyKind::Emergency, "{q}");
        let (at_112, at_line) = (r.text.find("112"), r.text.find(line));
        assert!(
            at_112.is_some() && at_line.is_some() && at_112 < at_line,
            "{q}: {}",
            r.text
        );
    }
}

/// Messages where nobody has a symptom, written blind from the article in the fourteenth
/// session to measure issue 9's bar "no emergency reply to a question that describes no
/// symptom": everyday questions and small talk (41), idioms and jobs that sound alarming (42),
/// the vocabulary of emergencies used innocently (43, 44). At `60e77d8`: 1, 9, 12, 11 of 250
/// got the 112 reply; 41 and 42 were read once 43 was written (43 then 9: the fixes from 41
/// and 42 took one), 43 once 44 was (44 then 11: none), 44 once 45 was (45 then 19, from 23:
/// a laughing message is read as a figure of speech), 45 once 46 was (the emergency services
/// named alone no longer fire; a thing as the subject of a sign's words). 46: 36 at `60e77d8`,
/// 35 before this work, 9 after it while unread; read once 47 was written. 47: 24 at
/// `60e77d8`, 22 before this work, 15 while unread; read once 48 was written. 48: 34 at
/// `60e77d8` and before this work, 21 while unread; read once 49 was written. 49: 30 at
/// `60e77d8` and before this work, 14 while unread; read once 50 was written. 50: 27 at
/// `60e77d8`, 26 before this work, 12 at the fourteenth session's end; read in the fifteenth
/// once 51 and 52 existed (then 2). 51 (the hardest innocent uses) and 52 (known, stable
/// disease): 21 and 3 at `c9a0a35`, unseen; 51 read once 52 and 53 existed (then 7). 52 and 53
/// (ordinary, chronic and figurative questions mixed): 3 and 3 at `c9a0a35`, 3 and 2 unseen
/// at that session's end; 52 then read once 53 existed (then 0). 53 read in the sixteenth
/// session once 54 existed (then 0). 54 (professionals, a past or stable illness, practical
/// questions, idioms, "what if"): 17 at `110520b` and after the fixes from 53, unseen; read
/// once 55 existed (then 6). 55 (procedure risks, past events, stable illness, work and
/// hobbies, worries, logistics): 21 at `110520b`, 20 after the fixes from 54, unseen. 56
/// (other clinics and prices, an old bleed or coma, the stay's safety, jokes and hobbies,
/// anxious but fine, caregivers and journalists), written at that session's end: 28 at
/// `110520b` and at the end, never read.
///
/// Seventeenth session: the urgency check learns from the lines of every set read so far,
/// copied into `intents/urgency/` (not 55 and 56, nor pairs 45-47): the bars of the read files
/// are now partly its training data; 55 and 56 (20 -> 15, 28 -> 13) are the ones that measure it.
/// 57 (treatment risks, past episodes, stable relatives, professionals, "what if", idioms and
/// jokes, logistics, the reassured), written once the check existed, never read: 20 with
/// `5ff6ee0`, 11 with the check.
///
/// Eighteenth session: 58 and 59 (the same kinds, plus urgent paperwork, sports, first-aid
/// courses, long stories of a past scare), written blind at its start and never read: 4 and 3
/// with `355414d` and after the session's alarm (a 112 the check sends where no rule did). 60
/// (habitual harmless things, jokes, long stories of a past scare), written at the session's
/// end, never read: 7 with `355414d` and at the end alike.
///
/// Nineteenth session: 61 (alarming words, nothing acute; 180 French, 70 English), written
/// blind at its start: 1 with `2081ac1`, read (that one line: an episode "en mars", "elle va
/// bien depuis"), 0 after pair 54's variants. Then a sign said to be over or usual
/// ("tout va bien", "comme à chaque fois"), a thing's, a figure of speech or said in general
/// no longer kept the urgency check from withholding where someone has it: 54 4 -> 3, 57 (never
/// read) 10 -> 9, 58 2 -> 1; 61 unchanged. Then the same for a book or a film, a professional's
/// or a student's question, a dream, a risk asked about: 44 and 48 1 -> 0, 57 9 -> 8; and for
/// their doctor, a past, weeks ago, a laugh: 45 2 -> 1, 51 4 -> 3. 62 (someone has or had a
/// sign, and it is over, usual, a character's, a dream, a joke, in care or a risk asked about),
/// written blind at the session's end to measure that, never read: 17 with `2081ac1`, 11 after.
#[test]
fn messages_describing_no_symptom_get_no_emergency_reply() {
    let m = matcher();
    for (file, most) in [
        ("no_symptom41.txt", 0),
        ("no_symptom42.txt", 1),
        ("no_symptom43.txt", 0),
        ("no_symptom44.txt", 0),
        ("no_symptom45.txt", 1),
        ("no_symptom46.txt", 0),
        ("no_symptom47.txt", 2),
        ("no_symptom48.txt", 0),
        ("no_symptom49.txt", 4),
        ("no_symptom50.txt", 1),
        ("no_symptom51.txt", 3),
        ("no_symptom52.txt", 0),
        ("no_symptom53.txt", 0),
        ("no_symptom54.txt", 3),
        ("no_symptom55.txt", 15),
        ("no_symptom56.txt", 13),
        ("no_symptom57.txt", 8),
        ("no_symptom58.txt", 1),
        ("no_symptom59.txt", 1),
        ("no_symptom60.txt", 7),
        ("no_symptom61.txt", 0),
        ("no_symptom62.txt", 11),
    ] {
        let alarmed: Vec<String> = probe(file)
            .into_iter()
            .filter(|q| m.reply(q, None).kind == ReplyKind::Emergency)
            .collect();
        println!("== {file}: {} emergency replies", alarmed.len());
        assert!(alarmed.len() <= most, "{file}: 112 for: {alarmed:#?}");
    }
}

/// Emergencies and symptom questions with no emergency, written on 2026-12-06 (seventh
/// session) by three people who had seen no intent, kept blind: scores only, never the lines
/// (tests/data/README.md). (file, least with the 112 reply, least naming 112, symptom file,
/// most false 112s), the scores when first read: the first set at `6a2975f` 78 with the 112
/// reply, 98 naming it once every reply without an answer carried the safety line, 7 false
/// 112s; the second at `4c4f50b` 82, 99, 7; both 6 false 112s after the fixes of `08ed3c4`
/// (from another writer's lines); the third, written after those, 43 and 50 of 50 and 8 false
/// 112s of 100 with the intents before and after them alike.
#[test]
fn blind_emergency_probes_are_measured() {
    let m = matcher();
    let sets = [
        (
            "heldout_emergencies.txt",
            87,
            100,
            "heldout_not_emergencies.txt",
            1,
        ),
        (
            "heldout_emergencies2.txt",
            90,
            100,
            "heldout_not_emergencies2.txt",
            0,
        ),
        (
            "heldout_emergencies3.txt",
            47,
            50,
            "heldout_not_emergencies3.txt",
            1,
        ),
        (
            "heldout_emergencies4.txt",
            100,
            100,
            "heldout_not_emergencies4.txt",
            1,
        ),
        (
            "heldout_emergencies5.txt",
            79,
            80,
            "heldout_not_emergencies5.txt",
            0,
        ),
        // Tuned on in the eleventh session: 69 replies (80 named), 23 false before it.
        (
            "heldout_emergencies6.txt",
            80,
            80,
            "heldout_not_emergencies6.txt",
            0,
        ),
        // Tuned on in the eleventh session too, after it was scored: 70 (80 named), 27 false at
        // `c574dcd`, 70 and 20 at `e5d38c2`.
        (
            "heldout_emergencies7.txt",
            80,
            80,
            "heldout_not_emergencies7.txt",
            0,
        ),
        // Tuned on after it was scored: 59 (80 named), 29 false at `c574dcd`; 59 and 24 at
        // `e5d38c2`; 61 and 21 at `443deba`.
        (
            "heldout_emergencies8.txt",
            80,
            80,
            "heldout_not_emergencies8.txt",
            2,
        ),
        // Tuned on after it was scored: 69 (80 named), 22 false at `c574dcd`; 69 and 16 at
        // `e5d38c2`; 70 and 15 at `443deba`; 74 and 15 at `e20f6c8`.
        (
            "heldout_emergencies9.txt",
            79,
            80,
            "heldout_not_emergencies9.txt",
            1,
        ),
        // 60 + 60, read only as a score: 52 (59 named), 18 false at `c574dcd`; 53 (60 named)
        // and 11 at `5d5ca97`, before the changes made from probe 9; 55 and 10 after those made
        // from probe 12 (twelfth session), 56 and 10 after those from probe 14.
        (
            "heldout_emergencies10.txt",
            56,
            60,
            "heldout_not_emergencies10.txt",
            2,
        ),
        // 80 + 80, written at the start of the twelfth session, read only as a score: 76 (80
        // named), 10 false at `02dbec3`; 76 and 8 after the changes made from probe 14.
        (
            "heldout_emergencies11.txt",
            77,
            80,
            "heldout_not_emergencies11.txt",
            4,
        ),
        // 80 + 80, written in the twelfth session after the session's first changes, then
        // tuned on: 74 (80 named), 14 false at `cf16c0c`; 74 and 12 at `a8207f5` (unseen).
        (
            "heldout_emergencies12.txt",
            80,
            80,
            "heldout_not_emergencies12.txt",
            1,
        ),
        // 80 + 80, written at the end of the twelfth session's emergency work, read only as a
        // score: 74 (80 named), 12 false at `459c863`; the session's start `cf16c0c` 74 and 15.
        (
            "heldout_emergencies13.txt",
            76,
            80,
            "heldout_not_emergencies13.txt",
            6,
        ),
        // Written late in the twelfth session, then tuned on: 75 (80 named), 11 false at
        // `cf16c0c`; 75 and 9 at `a9e9834` (unseen).
        (
            "heldout_emergencies14.txt",
            80,
            80,
            "heldout_not_emergencies14.txt",
            0,
        ),
        // Written with probe 14: 71 (77 named), 21 false at `cf16c0c`; 71 (77 named) and 15 at
        // `a9e9834`; 71 and 14 after the changes made from probe 14 (unseen). Then its three
        // emergencies that named no 112 were read and their classes fixed: 74, 80, 14.
        (
            "heldout_emergencies15.txt",
            76,
            80,
            "heldout_not_emergencies15.txt",
            5,
        ),
        // 60 + 60, written before probe 15 was read: 50 (58 named), 9 false at `cf16c0c`; 50
        // (58) and 5 at `def4666`; 51 (58) and 5 after the fixes from probe 15. In the
        // thirteenth session, after probes 17 and 18 were written, its two emergencies that
        // named no 112 were read (bleach drunk, a farewell on a bridge) and their classes
        // fixed with probe 17's: 53 (60) and 4.
        (
            "heldout_emergencies16.txt",
            55,
            60,
            "heldout_not_emergencies16.txt",
            2,
        ),
        // 80 + 80, written blind at the start of the thirteenth session, then tuned on: 69 (78
        // named), 6 false at `81eedb2`.
        (
            "heldout_emergencies17.txt",
            79,
            80,
            "heldout_not_emergencies17.txt",
            0,
        ),
        // 60 + 60, written with probe 17: 52 (60 named), 2 false at `81eedb2`; 53 (60) and 2
        // after the changes made from probes 16 and 17 (unseen); then tuned on, once probes 19
        // and 20 were written: 60 (60) and 0.
        (
            "heldout_emergencies18.txt",
            60,
            60,
            "heldout_not_emergencies18.txt",
            0,
        ),
        // 80 + 80, written in the thirteenth session after the changes from probes 16 and 17:
        // 61 (80 named), 6 false at `81eedb2`; 62 and 5 at `aa2d55e`; 64 and 5 at `e25a614`
        // (unseen); then tuned on, once probes 21 and 22 were written: 80 and 1.
        (
            "heldout_emergencies19.txt",
            80,
            80,
            "heldout_not_emergencies19.txt",
            1,
        ),
        // 60 + 60, written with probe 19: 53 (60 named), 3 false at `81eedb2`, `aa2d55e` and
        // `e25a614` (unseen); then tuned on with probe 19: 60 and 0.
        (
            "heldout_emergencies20.txt",
            60,
            60,
            "heldout_not_emergencies20.txt",
            0,
        ),
        // 80 + 80 and 60 + 60 (22 "hard for a keyword program": what is seen, in plain words):
        // 60 (80 named) and 6, 40 (60) and 2 at `81eedb2` and at `e25a614`; 60 and 6, 41 and 2
        // after the changes from probes 19 and 20 (unseen); then, once probes 23 and 24 were
        // written, tuned on: 74 and 0, 59 and 0.
        (
            "heldout_emergencies21.txt",
            74,
            80,
            "heldout_not_emergencies21.txt",
            0,
        ),
        (
            "heldout_emergencies22.txt",
            59,
            60,
            "heldout_not_emergencies22.txt",
            0,
        ),
        // 80 + 80 and 60 + 60, written after every change before probes 21 and 22 were read,
        // unseen: 68 (80 named, 75 first) and 4, 56 (60
        // named, 59 first) and 0; at `81eedb2` 68 (68 first) and 4, 56 (56 first) and 1; after
        // the changes from probes 21 and 22, 68 (75 first) and 4, 57 (59 first) and 0; then,
        // once probes 25 to 28 were written, tuned on: 79 (80 first) and 1, 60 and 0.
        (
            "heldout_emergencies23.txt",
            79,
            80,
            "heldout_not_emergencies23.txt",
            1,
        ),
        (
            "heldout_emergencies24.txt",
            60,
            60,
            "heldout_not_emergencies24.txt",
            0,
        ),
        // 80 + 80 and 60 + 60, written blind after the changes from probes 21 and 22, never
        // read then: 66 (79 named, 72 first) and 3, 47 (57 named, 53 first) and 5; at `81eedb2`
        // 65 (65 first) and 3, 46 (46 first) and 5. Tuned on once probes 29 and 30 were
        // written (their four emergencies that named no 112 among them): 80 and 2, 56 and 1.
        (
            "heldout_emergencies25.txt",
            80,
            80,
            "heldout_not_emergencies25.txt",
            1,
        ),
        (
            "heldout_emergencies26.txt",
            56,
            60,
            "heldout_not_emergencies26.txt",
            0,
        ),
        // 60 + 60 each, written blind while probes 23 and 24 were tuned on (28: the emergency
        // told after a question or small talk), unseen: 50 (59 named, 56 first) and 3, 57
        // (58 named, 57 first) and 1; at `81eedb2` 48 (59, 48) and 3, 55 (57, 55) and 2. Tuned
        // on with probes 25 and 26: 58 and 0, 60 and 0.
        (
            "heldout_emergencies27.txt",
            58,
            60,
            "heldout_not_emergencies27.txt",
            0,
        ),
        (
            "heldout_emergencies28.txt",
            60,
            60,
            "heldout_not_emergencies28.txt",
            0,
        ),
        // 60 + 60 each, written after the changes from probes 23 and 24 (30: emergencies told
        // calmly, as a question or underestimated), unseen: 56 (60 named, 58 first) and 3, 53
        // (60 named, 58 first) and 1; at `81eedb2` 53 (53 first) and 5, 50 (50 first) and 4.
        // Tuned on once probes 31 and 32 were written: 60 and 1, 60 and 0.
        (
            "heldout_emergencies29.txt",
            60,
            60,
            "heldout_not_emergencies29.txt",
            0,
        ),
        (
            "heldout_emergencies30.txt",
            60,
            60,
            "heldout_not_emergencies30.txt",
            0,
        ),
        // 60 + 60 each (32: what a keyword program would miss), unseen then: 50 (59 named, 53 first) and 5, 42 (59 named, 53
        // first) and 2; at `81eedb2` 49 (49 first) and 5, 35 (35 first) and 3. Tuned on once
        // probes 33 and 34 were written: 60 and 1, 59 (60 first) and 0.
        (
            "heldout_emergencies31.txt",
            60,
            60,
            "heldout_not_emergencies31.txt",
            0,
        ),
        (
            "heldout_emergencies32.txt",
            59,
            60,
            "heldout_not_emergencies32.txt",
            0,
        ),
        // 60 + 60 each, the last blind pair of the thirteenth session (34: what a keyword
        // program would miss), unread then: 53 (60 named, 58 first) and 2, 40 (59 named, 45
        // first) and 4; at `81eedb2` 47 (59 named, 47 first) and 3, 36 (57 named, 36 first)
        // and 6. Read and tuned on in the fourteenth.
        (
            "heldout_emergencies33.txt",
            60,
            60,
            "heldout_not_emergencies33.txt",
            0,
        ),
        (
            "heldout_emergencies34.txt",
            58,
            60,
            "heldout_not_emergencies34.txt",
            2,
        ),
        // 80 + 80 each, the fourteenth session's blind pairs (35: relatives and carers, the
        // emergency in passing; 36: what one sees and feels, no medical words, traps in
        // everyday colours; 37: typed in a hurry, after a procedure; 38: older visitors,
        // alcohol, told in the third person). At the session's start (`60e77d8`), unread: 73
        // (76 first) and 4, 69 (75 first) and 13, 76 (80 first) and 1, 67 (75 first) and 5.
        // 35 and 36 read once 37 and 38 were written, 37 and 38 once 39 and 40 were; 37 and
        // 38 scored before being read, after the tuning on 35 and 36: 76 and 1, 67 and 5.
        (
            "heldout_emergencies35.txt",
            78,
            80,
            "heldout_not_emergencies35.txt",
            0,
        ),
        (
            "heldout_emergencies36.txt",
            76,
            80,
            "heldout_not_emergencies36.txt",
            1,
        ),
        (
            "heldout_emergencies37.txt",
            80,
            80,
            "heldout_not_emergencies37.txt",
            1,
        ),
        (
            "heldout_emergencies38.txt",
            77,
            80,
            "heldout_not_emergencies38.txt",
            1,
        ),
        // 80 + 80 each, written blind while 37 and 38 were read (39: numbers and measurements,
        // a nurse's or a watch's words, a few words of another language; 40: babies, children,
        // teenagers, pregnancy and after a birth). Never read: at `60e77d8` 66 (75 first) and
        // 3, 66 (75 first) and 7; at the session's end 68 (76 first) and 3, 67 (76 first) and 8.
        (
            "heldout_emergencies39.txt",
            74,
            80,
            "heldout_not_emergencies39.txt",
            1,
        ),
        (
            "heldout_emergencies40.txt",
            77,
            80,
            "heldout_not_emergencies40.txt",
            2,
        ),
        // Written blind in the fifteenth session (41: the acute part hidden in other talk,
        // minimised or joked about; 42: very short cries and long rambling messages, abroad, at
        // night; 43: a known liver disease suddenly worse, asking what to do or which pill).
        // 39, 40 and 41 were read then, 42 once 43 existed, 43 once 44 did (unseen until then:
        // 77, 77 first, 0 false at `c9a0a35` and after 41 and 42 were read). At `c9a0a35`
        // (before that session's changes) 41 and 42: 70 (72 first) and 5, 69 (72 first) and 5.
        (
            "heldout_emergencies41.txt",
            78,
            80,
            "heldout_not_emergencies41.txt",
            1,
        ),
        (
            "heldout_emergencies42.txt",
            75,
            80,
            "heldout_not_emergencies42.txt",
            0,
        ),
        // 44 (everyday and regional words, signs described by what is seen, a price question
        // beside them), written at the fifteenth session's end: 71 (77 first) / 1 at `c9a0a35`,
        // 72 (78 first) / 1 at its end, unseen; read in the sixteenth once 45 existed (80 / 0).
        (
            "heldout_emergencies44.txt",
            80,
            80,
            "heldout_not_emergencies44.txt",
            0,
        ),
        // From here on, 45, 46 and 47 are the pairs the urgency check (seventeenth session) did
        // not learn from: false 112s 7 -> 5, 3 -> 2, 5 -> 2, every 112 kept; the bars above
        // are on its training lines.
        // Pair 45 (on someone's behalf, continuing a conversation, mixed languages, the urgent
        // part after a polite preamble), written at the sixteenth session's start: 74 (78
        // first) / 7 at `110520b` and after the fixes from pair 44, unseen. Nineteenth
        // session: 79 once "il va se tuer" was self-harm (its `no_symptom55` count was seen while
        // the variant was chosen: 14 -> 15).
        (
            "heldout_emergencies45.txt",
            79,
            80,
            "heldout_not_emergencies45.txt",
            5,
        ),
        // Pair 46 (after a procedure, downplayed, told by what is seen, numbers, cries and
        // rambling), written in the sixteenth session: 77 (80 first) / 3 at `110520b` and at
        // that session's end, unseen.
        (
            "heldout_emergencies46.txt",
            79,
            80,
            "heldout_not_emergencies46.txt",
            2,
        ),
        // Pair 47 (the elderly and their carers, pregnancy, abroad, an unrelated question
        // first, several small signs together), written at the sixteenth session's end: 79 (79
        // first) / 5 at `110520b` and at the end, never read.
        (
            "heldout_emergencies47.txt",
            79,
            80,
            "heldout_not_emergencies47.txt",
            1,
        ),
        (
            "heldout_emergencies43.txt",
            79,
            80,
            "heldout_not_emergencies43.txt",
            0,
        ),
        // Pair 48 (an ordinary question that turns urgent at its end, everyday words, played
        // down, a child writing for a parent, a stranger at work, "should I come sooner",
        // a past and a current episode), written in the seventeenth session after the urgency
        // check was built, never read: 73 (78 first, 80 named) / 9 false 112s with `5ff6ee0`'s
        // knowledge and code, 73 / 6 with the urgency check. Eighteenth session, with the
        // check's alarm (a 112 where it is surer than of any non-urgent example and a sign is
        // named): 45 74 -> 78, 46 77 -> 79, 48 73 -> 76, false 112s unchanged.
        (
            "heldout_emergencies48.txt",
            76,
            80,
            "heldout_not_emergencies48.txt",
            5,
        ),
        // Pair 49 (emergencies in passing, played down, asked as "is it normal", no verb,
        // emojis, carers and neighbours), written blind at the eighteenth session's start: 78
        // (79 first) / 5 with `355414d`; its three missed emergencies were read (a carer's
        // stroke signs, an uncle who fell and no longer speaks, a wife who can hardly be woken):
        // 80 / 5 after the alarm and the "se réveiller" variants.
        (
            "heldout_emergencies49.txt",
            80,
            80,
            "heldout_not_emergencies49.txt",
            3,
        ),
        // Pair 50 (what is seen rather than named, spelling a keyword search would miss, a
        // stranger in the street, one third English), written in the eighteenth session once
        // the alarm existed, never read: 75 (78 first) / 5 with `355414d`, 76 / 5 with the
        // alarm (78 first, 79 naming 112). Its four missed emergencies were then read (a mouth
        // pulling to one side, a child fallen from a window, pills with whisky, "can't move his
        // left side"): 79 (80 first) / 5 after the stroke, fall and SMS variants.
        (
            "heldout_emergencies50.txt",
            79,
            80,
            "heldout_not_emergencies50.txt",
            1,
        ),
        // Pair 51 (half liver-related, half general; what is seen rather than named, emojis,
        // bare symptom lists, 40 % English), written at the eighteenth session's end, never
        // read: 69 (75 first, 80 named) / 5 with `355414d`, 73 (76 first) / 5 with `1d62b6b`;
        // then its seven misses were read: 78 (79 first) / 5 after variants for blue lips and
        // fast breathing, flapping hands, an elephant on the chest, pills in front of someone
        // who sees no point, "jarive" (two left: "😰💊💊💊 mon ado", "🚲🤕🩸 il répond pas").
        (
            "heldout_emergencies51.txt",
            78,
            80,
            "heldout_not_emergencies51.txt",
            2,
        ),
        // Pair 52 (everyday words for what is seen or felt, buried in practical questions,
        // mixed French and English), written at the very end of the eighteenth session, never
        // read: 66 (76 first) / 1 with `355414d`, 70 with `7411083`, 72 (77 first) / 1 after
        // pair 51's variants; then its eight misses were read: 80 / 1 after variants for a
        // belly hard as wood, a vice in the chest down the left arm, a face swelling after
        // peanuts, a throat closing, pills in front of someone who means to end it, people who
        // are not there, "can't get a full sentence out", "arete".
        (
            "heldout_emergencies52.txt",
            80,
            80,
            "heldout_not_emergencies52.txt",
            0,
        ),
        // The false 112s of pairs 49-52 and `no_symptom58`/`59` were read at the session's end:
        // an animal's sign with the vet (even now), "as a toddler", "I used to", "du mois
        // dernier", "m'a rassuré", "vu aux urgences" / "les urgences ont dit", "nothing
        // serious": 5 -> 3, 5 -> 2, 5 -> 4 (49-51), 4 -> 3 (58), and never-read 57 11 -> 10;
        // then "rien d'urgent" as an exception, "if something happens" as `ahead`, "does 112
        // work" as a question about the number: 58 3 -> 2, 59 3 -> 1.
        // Pair 53 (how frightened people type: fragments, capitals, plain words for what is
        // seen), written after pair 52's variants, never read: 73 (77 first) / 2 with
        // `355414d`, 78 (78 first) / 2 at the end, 4 of them sent by the urgency check's alarm;
        // the variants from pairs 51 and 52 added none of them.
        (
            "heldout_emergencies53.txt",
            78,
            80,
            "heldout_not_emergencies53.txt",
            2,
        ),
        // Pair 54 (every style, a new acute sign in a known disease, played down or hidden
        // beside a question; the same words with nothing now), written blind at the nineteenth
        // session's start: 76 / 7 with `2081ac1`. Then its misses and false 112s were read:
        // 78 / 2 after variants for a pale and sweaty chest pain, "i want to jump", a sign over
        // since ("va bien depuis", "seizure free", "on meds now"), a transfer to the ward,
        // "it's not my heart", "rien ne se passe actuellement" (left: fever and yellow eyes
        // beside last month's surgery, a blood sugar at 0.3; fainting once at 15).
        (
            "heldout_emergencies54.txt",
            78,
            80,
            "heldout_not_emergencies54.txt",
            2,
        ),
        // Pair 55 (panic and calm, downplayed, "is this normal after the injection?", what is
        // seen rather than named, a past episode happening again; the same words with nothing
        // now), written blind during the nineteenth session, never read: 80 / 1 with
        // `2081ac1`, 80 / 0 after pair 54's variants.
        (
            "heldout_emergencies55.txt",
            80,
            80,
            "heldout_not_emergencies55.txt",
            0,
        ),
        // Pair 56 (half of the emergencies not the liver's: stroke, heart, allergy, overdose,
        // poisoning, trauma, electrocution, drowning, a birth, suicide with a plan; a past told
        // beside something acute now; the same words with nothing now), written blind at the
        // twentieth session's start, never read: 76 (78 first, 80 named) / 1 with `c513bb5`
        // and at the session's end alike.
        (
            "heldout_emergencies56.txt",
            76,
            80,
            "heldout_not_emergencies56.txt",
            1,
        ),
    ];
    for (file, least_told, least_named, others, most_alarmed) in sets {
        let (mut told, mut first, mut named, mut total) = (0, 0, 0, 0);
        for q in probe(file) {
            let r = m.reply(&q, None);
            total += 1;
            told += usize::from(r.kind == ReplyKind::Emergency && r.text.contains("112"));
            // The 112 reply, or a reply whose first line names 112 (the safety line first).
            first += usize::from(r.text.lines().next().is_some_and(|l| l.contains("112")));
            named += usize::from(r.text.contains("112"));
        }
        let others_lines = probe(others);
        let alarmed = others_lines
            .iter()
            .filter(|q| m.reply(q, None).kind == ReplyKind::Emergency)
            .count();
        println!(
            "== {file}: 112 reply {told}/{total}, 112 first {first}/{total}, 112 named \
             {named}/{total}; {others}: {alarmed}/{} false 112",
            others_lines.len()
        );
        assert!(
            told >= least_told,
            "{file}: 112 reply for {told} of {total}"
        );
        assert!(
            named >= least_named,
            "{file}: 112 named for {named} of {total}"
        );
        assert!(alarmed <= most_alarmed, "{others}: {alarmed} false 112");
    }
}
