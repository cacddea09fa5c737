//! The `faqbot` command as other tools use it: `ask` (one line out per line in, the JSON
//! contract), `check` (file:line messages and exit status on broken files) and `explain`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts the real `faqbot` binary from the repository folder with `args`, every stream piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_faqbot"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faqbot starts")
}

/// Runs the real `faqbot` binary from the repository folder with `args` and `stdin`.
pub(crate) fn faqbot(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = spawn(args);
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.unwrap_or_default().to_owned();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("faqbot runs");
    writer
        .join()
        .expect("writer thread")
        .expect("stdin written");
    out
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

#[test]
fn ask_json_answers_every_stdin_line_in_order_even_odd_ones() {
    let long = "foie ".repeat(2000);
    let input = format!("combien coûte le traitement ?\n\n🔥🚀🔥\n{long}\nbonjour\n\u{0}\u{7}\nWhat is cirrhosis?\n");
    let out = faqbot(&["ask", "--json"], Some(&input));
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 7, "one output line per input line");
    for line in &lines {
        for key in [
            "question",
            "kind",
            "text",
            "faq_id",
            "intent",
            "confidence",
            "suggestions",
            "source",
        ] {
            assert!(line.get(key).is_some(), "missing {key} in {line}");
        }
        let c = line["confidence"].as_f64().expect("confidence is a number");
        assert!((0.0..=1.0).contains(&c));
    }
    assert_eq!(lines[0]["kind"], "answer");
    assert_eq!(lines[0]["faq_id"], "cout");
    assert!(lines[0]["source"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(lines[0]["question"], "combien coûte le traitement ?");
    assert_eq!(
        lines[1]["kind"], "fallback",
        "an empty line gets a fallback"
    );
    assert_eq!(lines[2]["kind"], "fallback");
    assert_eq!(lines[4]["kind"], "smalltalk");
    assert_eq!(lines[6]["kind"], "answer");
    assert_eq!(lines[6]["faq_id"], "cirrhose_definition");
    assert!(lines[6]["text"]
        .as_str()
        .is_some_and(|t| t.starts_with("According to our article")));
}

/// `faqbot ask … | head -1`, `faqbot explain … | head`: the reader leaves early, and the
/// command ends quietly with success, not with a panic or an "Error: Broken pipe".
#[test]
fn a_reader_that_leaves_early_ends_the_command_quietly() {
    use std::io::BufRead;
    let questions = "combien coûte le traitement ?\n".repeat(5000);
    let mut child = spawn(&["ask", "--json"]);
    let mut pipe = child.stdin.take().expect("stdin is piped");
    // Its end may close first: the write's result does not matter.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(questions.as_bytes());
    });
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut first)
        .expect("one line");
    assert!(first.contains("\"kind\""), "a JSON reply first: {first}");
    // The reader is dropped here: its end of the pipe closes.
    let out = child.wait_with_output().expect("faqbot ends");
    writer.join().expect("writer thread");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ask: {:?}, stderr: {stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Error"),
        "{stderr}"
    );

    let mut child = spawn(&["explain", "combien coûte le traitement ?"]);
    // Closed before explain writes its first line (it loads the knowledge first).
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("faqbot ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "explain: {:?}, stderr: {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn ask_with_arguments_prints_readable_text() {
    let out = faqbot(
        &["ask", "la", "consultation", "est-elle", "gratuite", "?"],
        None,
    );
    assert!(out.status.success());
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1);
    assert!(text.starts_with("[answer "), "{text}");
    assert!(text.contains("consultation_gratuite"), "{text}");
}

#[test]
fn ask_lang_forces_the_language() {
    let out = faqbot(&["ask", "--json", "--lang", "en", "cirrhose"], None);
    let line: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert!(
        line["text"]
            .as_str()
            .is_some_and(|t| !t.starts_with("D'après")),
        "{line}"
    );
}

#[test]
fn check_passes_on_the_shipped_files() {
    let out = faqbot(&["check"], None);
    assert!(
        out.status.success(),
        "faqbot check failed:\n{}",
        stdout(&out)
    );
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
}

/// A copy of faq/ and intents/ in a temp dir, to break on purpose.
fn broken_copy(edit: impl FnOnce(&Path)) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["faq/fr", "faq/en", "intents"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(root().join(sub)).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                std::fs::copy(
                    &path,
                    dir.path().join(sub).join(path.file_name().expect("name")),
                )
                .expect("copy");
            }
        }
    }
    edit(dir.path());
    let faq = dir.path().join("faq");
    let intents = dir.path().join("intents");
    let out = faqbot(
        &[
            "check",
            "--faq",
            &faq.to_string_lossy(),
            "--intents",
            &intents.to_string_lossy(),
        ],
        None,
    );
    (dir, out)
}

#[test]
fn check_fails_with_file_and_line_on_broken_toml() {
    let (_dir, out) = broken_copy(|d| {
        let p = d.join("faq/fr/cout.md");
        let text = std::fs::read_to_string(&p).expect("read");
        std::fs::write(&p, text.replacen("section = \"", "section = ", 1)).expect("write");
    });
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(text.contains("faq/fr/cout.md:"), "{text}");
    assert!(text.contains("bad settings"), "{text}");
}

#[test]
fn check_reports_duplicate_ids_and_empty_answers() {
    let (_dir, out) = broken_copy(|d| {
        let text = std::fs::read_to_string(d.join("faq/fr/cout.md")).expect("read");
        let end = text.rfind("+++").expect("front matter");
        std::fs::write(d.join("faq/fr/cout.md"), &text[..end + 4]).expect("write");
        let other = std::fs::read_to_string(d.join("faq/fr/avenir.md")).expect("read");
        std::fs::write(d.join("faq/fr/avenir2.md"), other).expect("write");
    });
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("cout.md") && text.contains("the answer is empty"),
        "{text}"
    );
    assert!(
        text.contains("avenir2.md:2: id `avenir` differs from the file name"),
        "{text}"
    );
    assert!(
        summary(&text).starts_with("2 error(s), "),
        "errors are counted apart from warnings: {text}"
    );
}

#[test]
fn check_reports_a_phrasing_that_another_entry_answers() {
    let (_dir, out) = broken_copy(|d| {
        let p = d.join("faq/fr/avenir.md");
        let text = std::fs::read_to_string(&p).expect("read");
        let text = text.replacen(
            "phrasings = [",
            "phrasings = [\n  \"combien coûte la thérapie par cellules souches ?\",",
            1,
        );
        std::fs::write(&p, text).expect("write");
    });
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.contains("avenir.md:")
            && l.contains("combien coûte la thérapie par cellules souches ?")
            && l.contains("cout")),
        "{text}"
    );
}

/// Edits a copied file in place.
fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("read");
    std::fs::write(path, change(text)).expect("write");
}

/// The last line of `faqbot check`: the counts.
fn summary(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

#[test]
fn check_warns_about_an_entry_with_two_phrasings_and_fails() {
    let (_dir, out) = broken_copy(|d| {
        edit(&d.join("faq/fr/avenir.md"), |text| {
            let start = text.find("phrasings = [").expect("phrasings");
            let end = start + text[start..].find("]\n").expect("end of phrasings");
            format!(
                "{}phrasings = [\"quel avenir pour cette thérapie ?\", \"perspectives futures\"{}",
                &text[..start],
                &text[end..]
            )
        });
    });
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("faq/fr/avenir.md:6: warning: only 2 phrasing(s): write at least 3"),
        "{text}"
    );
    assert!(
        summary(&text).starts_with("0 error(s), ")
            && summary(&text).ends_with("warning(s): fix them and run `faqbot check` again"),
        "{text}"
    );
}

#[test]
fn check_warns_about_a_long_answer_with_the_configurable_limit() {
    let (_dir, out) = broken_copy(|d| {
        edit(&d.join("faq/fr/cout.md"), |text| {
            format!("{text}{}\n", " Ces prix sont indicatifs.".repeat(40))
        });
    });
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.contains("faq/fr/cout.md:")
            && l.contains(": warning: the answer is ")
            && l.contains("(1000 at most, `max_answer_chars`)")),
        "{text}"
    );
    assert_eq!(
        summary(&text),
        "0 error(s), 1 warning(s): fix them and run `faqbot check` again"
    );

    // The limit is a flag: the shipped references (a list of six) are over 800 characters.
    let out = faqbot(&["check", "--max-answer-chars", "800"], None);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("faq/fr/references.md:37: warning: the answer is 917 characters"),
        "{text}"
    );
}

#[test]
fn check_warns_about_a_follow_up_that_points_nowhere() {
    let (_dir, out) = broken_copy(|d| {
        edit(&d.join("faq/fr/cout.md"), |text| {
            text.replacen(
                "related = [\"cout_facteurs\"",
                "related = [\"nulle_part\"",
                1,
            )
        });
    });
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(
            "faq/fr/cout.md:37: warning: `related` names `nulle_part`, which is no fr entry's id"
        ),
        "{text}"
    );
    assert_eq!(
        summary(&text),
        "0 error(s), 1 warning(s): fix them and run `faqbot check` again"
    );
}

#[test]
fn check_reports_two_near_identical_entries_once_with_both_ids() {
    let (_dir, out) = broken_copy(|d| {
        for lang in ["fr", "en"] {
            let text =
                std::fs::read_to_string(d.join(format!("faq/{lang}/cout.md"))).expect("read");
            // The copy keeps most phrasings, loses its last three, and gets its own id.
            let mut lines: Vec<&str> = text.lines().collect();
            let close = lines
                .iter()
                .position(|l| *l == "]")
                .expect("end of phrasings");
            lines.drain(close - 3..close);
            let copy = lines
                .join("\n")
                .replacen("id = \"cout\"", "id = \"cout_bis\"", 1);
            std::fs::write(d.join(format!("faq/{lang}/cout_bis.md")), copy).expect("write");
        }
    });
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for lang in ["fr", "en"] {
        let pair: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("`cout` and `cout_bis` overlap"))
            .filter(|l| l.contains(&format!("faq/{lang}/cout.md:6: warning: ")))
            .collect();
        assert_eq!(pair.len(), 1, "{text}");
        assert!(
            pair[0].contains("add a word specific to each, or merge them"),
            "{text}"
        );
    }
    // Reported as the pair, not phrasing by phrasing. (The copy changes what the re-ranker
    // learns, so other entries may get findings of their own; none is about this pair.)
    assert!(!text.contains("is in both"), "{text}");
    let about_the_pair = text
        .lines()
        .filter(|l| l.contains("`cout`") && l.contains("`cout_bis`"))
        .count();
    assert_eq!(about_the_pair, 2, "{text}");
}

#[test]
fn check_reports_a_phrasing_copied_from_another_entry_with_both_places() {
    let (_dir, out) = broken_copy(|d| {
        edit(&d.join("faq/fr/avenir.md"), |text| {
            text.replacen(
                "phrasings = [",
                "phrasings = [\n  \"combien ça coûte ?\",",
                1,
            )
        });
    });
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.contains("faq/fr/avenir.md:7: warning: phrasing \"combien ça coûte ?\" is in both `avenir` and `cout` (")
            && l.contains("faq/fr/cout.md:8)")),
        "{text}"
    );
}

#[test]
fn explain_shows_tokens_candidates_and_the_decision() {
    let out = faqbot(&["explain", "cb pr une clinque en serbie"], None);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("typo → clinique"), "{text}");
    assert!(text.contains("top candidates:"), "{text}");
    assert!(text.contains("decision:"), "{text}");
}

#[test]
fn a_missing_faq_folder_is_a_clear_error() {
    let out = faqbot(&["ask", "--faq", "/nonexistent", "bonjour"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--faq"), "{err}");
}

#[test]
fn check_names_the_unless_line_of_an_unknown_concept() {
    let (_dir, out) = broken_copy(|d| {
        let p = d.join("intents/emergency.toml");
        let text = std::fs::read_to_string(&p).expect("read");
        let broken = text.replacen(
            "any = [\"about_symptom\", \"side_effects\", \"can_happen\"]",
            "any = [\"about_symptom\", \"no_such_concept\", \"can_happen\"]",
            1,
        );
        assert_ne!(
            broken, text,
            "the [unless] line this test breaks has changed"
        );
        std::fs::write(&p, broken).expect("write");
    });
    assert!(!out.status.success());
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("`no_such_concept`"))
        .unwrap_or_else(|| panic!("no finding names the concept: {text}"));
    assert!(
        line.contains("emergency.toml:") && line.contains("[unless] names concept"),
        "{line}"
    );
    assert!(line.contains("add it there or fix the name"), "{line}");
}

#[test]
fn check_warns_of_a_variant_in_two_concepts() {
    let (_dir, out) = broken_copy(|d| {
        let p = d.join("intents/synonyms.toml");
        let text = std::fs::read_to_string(&p).expect("read");
        // "combien" is a `price` word; listing it as courtesy too would hide one of them.
        let text = text.replacen(
            "fr = [\"pour votre aide\",",
            "fr = [\"Combien\", \"pour votre aide\",",
            1,
        );
        std::fs::write(&p, text).expect("write");
    });
    assert!(!out.status.success());
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("\"Combien\""))
        .unwrap_or_else(|| panic!("no finding names the variant: {text}"));
    assert!(
        line.contains("synonyms.toml:") && line.contains("warning"),
        "{line}"
    );
    assert!(
        line.contains("`price`") && line.contains("`courtesy`"),
        "{line}"
    );
}

#[test]
fn calibrate_prints_the_urgency_check_and_what_it_leaves_alarmed() {
    let out = faqbot(&["calibrate"], None);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("urgency check:"))
        .unwrap_or_else(|| panic!("no urgency line in:\n{text}"));
    // No urgent example a rule fires on loses its 112 in cross-validation, by construction.
    assert!(line.contains(" non-urgent, 0 of the "), "{line}");
    assert!(
        line.contains("the threshold is this urgent example's probability"),
        "{line}"
    );
    let left = text
        .lines()
        .filter(|l| l.contains("112 not withheld in cross-validation"))
        .count();
    assert!(left > 0, "{text}");
    // The other way: no non-urgent example gets a 112 no rule sent, by construction.
    let alarm = text
        .lines()
        .find(|l| l.starts_with("urgency alarm:"))
        .unwrap_or_else(|| panic!("no alarm line in:\n{text}"));
    assert!(
        alarm.contains(" of the urgent, 0 of the non-urgent"),
        "{alarm}"
    );
}
