//! The knowledge being served and how it changes under a running service: the files are re-read,
//! validated and indexed off the request path, then swapped in atomically; a broken change is refused.
//!
//! **Invariant:** a request holds the `Arc<Matcher>` it started with, so a reload never changes
//! the knowledge under a reply being built; the next request sees the new one.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};

use crate::clock::now_ms;
use crate::knowledge::edit::{self, EntryDraft, SaveError, Saved};
use crate::knowledge::{self, LoadError};
use crate::matcher::{gates, GateOptions};
use crate::Matcher;

/// Editors and `git checkout` write several files in a burst: wait for this much quiet first.
const SETTLE: Duration = Duration::from_millis(150);

/// What asked for a reload, for the logs and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Startup,
    /// The file watcher saw a change.
    Files,
    /// SIGHUP.
    Signal,
    /// A support advisor, from the console (a reload button or a save).
    Console {
        advisor: String,
    },
}

/// A change that was not taken: the knowledge before it keeps serving.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub at: i64,
    pub trigger: Trigger,
    /// The errors the change brought (not those the served knowledge already had).
    pub problems: Vec<LoadError>,
}

/// What the console shows about the knowledge being served.
#[derive(Debug, Clone)]
pub struct Status {
    /// Starts at 1 and goes up by one with every knowledge swapped in.
    pub version: u64,
    pub loaded_at: i64,
    pub trigger: Trigger,
    pub entries: usize,
    pub intents: usize,
    /// What loading the served files found: errors tolerated since startup (those files are
    /// left out) and warnings.
    pub problems: Vec<LoadError>,
    /// The quality gates' findings on the served knowledge; `None` until
    /// [`Live::check_quality`] ran for this version.
    pub quality: Option<Vec<LoadError>>,
    /// The last refused change, until a later reload succeeds.
    pub refused: Option<Refusal>,
    /// `true` while the files are watched.
    pub watching: bool,
}

/// What one reload did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The new knowledge serves from now on.
    Swapped { version: u64, took: Duration },
    /// The files have problems the served knowledge did not have; nothing changed.
    Refused { problems: Vec<LoadError> },
    /// A watch event, but the files are as the last reload saw them.
    Unchanged,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Swapped { .. } => "swapped",
            Outcome::Refused { .. } => "refused",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Told of every reload's outcome (the service's metrics). Called where the reload ran (the
/// watch thread, a blocking task): it must be cheap.
pub type ReloadObserver = Box<dyn Fn(&Outcome) + Send + Sync>;

/// What the binary runs after each knowledge swap to hand freed memory back: a load allocates
/// and frees tens of megabytes on several threads (models trained, indexes built), and the
/// allocator keeps those pages. The library does not know which allocator the binary uses.
static RELEASE_MEMORY: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets [`RELEASE_MEMORY`] (once per process; a second call is ignored).
pub fn release_memory_with(release: fn()) {
    let _ = RELEASE_MEMORY.set(release);
}

/// Runs the binary's memory release, if it set one.
pub fn release_memory() {
    if let Some(release) = RELEASE_MEMORY.get() {
        release();
    }
}

/// The served knowledge: the matcher, the folders it came from, and its reload status.
pub struct Live {
    faq: PathBuf,
    intents: PathBuf,
    current: ArcSwap<Matcher>,
    status: Mutex<State>,
    /// One reload at a time: two overlapping reloads could swap in the older files last.
    reloading: Mutex<()>,
    /// Dropping it stops the watch thread.
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    /// What the quality gates measure against.
    gates: GateOptions,
    /// Whether the gates are running, and whether they must run again after.
    gates_run: Mutex<GatesRun>,
    /// Serialises console saves (revision check then rename), and remembers who saved each file
    /// last, so a refused save can say who changed the entry.
    edits: Mutex<HashMap<PathBuf, LastSave>>,
    /// Told of each reload; the last service started over this knowledge set it.
    observer: Mutex<Option<ReloadObserver>>,
}

#[derive(Default)]
struct GatesRun {
    running: bool,
    again: bool,
}

/// Who saved a file from the console, and when.
#[derive(Debug, Clone)]
pub struct LastSave {
    pub advisor: String,
    pub at: i64,
}

/// A save from the console and what the reload after it did.
#[derive(Debug)]
pub struct SaveResult {
    pub saved: Saved,
    pub outcome: Outcome,
}

struct State {
    status: Status,
    /// The files as the last reload saw them: a watch event that changed nothing (our own save,
    /// already reloaded; an editor touching a file) does not rebuild the index again.
    seen: u64,
    /// Problems tolerated because the served knowledge already had them (by file and message:
    /// lines move when a file is edited).
    tolerated: HashSet<(PathBuf, String)>,
}

impl Live {
    /// Loads the folders. A file with a problem is left out and reported; the service starts
    /// with what loaded, as `faqbot serve` always has.
    pub fn load(faq: &Path, intents: &Path) -> (Live, Vec<LoadError>) {
        let (knowledge, problems) = knowledge::load(faq, intents);
        let matcher = Matcher::new(Arc::new(knowledge));
        (
            Live::new(faq, intents, Arc::new(matcher), &problems),
            problems,
        )
    }

    /// Serves `matcher`, built from `faq` and `intents` with `problems`.
    pub fn new(faq: &Path, intents: &Path, matcher: Arc<Matcher>, problems: &[LoadError]) -> Live {
        let status = Status {
            version: 1,
            loaded_at: now_ms(),
            trigger: Trigger::Startup,
            entries: matcher.knowledge().entries.len(),
            intents: matcher.knowledge().intents.len(),
            problems: problems.to_vec(),
            quality: None,
            refused: None,
            watching: false,
        };
        Live {
            faq: faq.to_path_buf(),
            intents: intents.to_path_buf(),
            current: ArcSwap::new(matcher),
            status: Mutex::new(State {
                status,
                seen: fingerprint(faq, intents),
                tolerated: problems.iter().map(key).collect(),
            }),
            reloading: Mutex::new(()),
            watcher: Mutex::new(None),
            edits: Mutex::new(HashMap::new()),
            gates: GateOptions::default(),
            gates_run: Mutex::new(GatesRun::default()),
            observer: Mutex::new(None),
        }
    }

    /// Tells `observer` the outcome of every reload from now on (it replaces any before).
    pub fn observe_reloads(&self, observer: ReloadObserver) {
        *self.observer.lock().unwrap_or_else(|p| p.into_inner()) = Some(observer);
    }

    /// Measures the quality gates against `gates` (the default otherwise).
    pub fn with_gates(mut self, gates: GateOptions) -> Live {
        self.gates = gates;
        self
    }

    pub fn gate_options(&self) -> &GateOptions {
        &self.gates
    }

    /// Runs [`Live::check_quality`] on a thread of its own. At most one run at a time: asked
    /// while one runs, it runs once more after it (on the newest knowledge), however many times
    /// it was asked. On a large FAQ the gates take long (≈ 1 min for 10 000 entries), and reloads
    /// must not wait for them.
    pub fn check_quality_later(self: &Arc<Self>) {
        {
            let mut gates = self.gates_run.lock().unwrap_or_else(|p| p.into_inner());
            if gates.running {
                gates.again = true;
                return;
            }
            gates.running = true;
        }
        let live = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("quality-gates".into())
            .spawn(move || loop {
                let Some(live) = live.upgrade() else { return };
                live.check_quality();
                let mut gates = live.gates_run.lock().unwrap_or_else(|p| p.into_inner());
                if !std::mem::take(&mut gates.again) {
                    gates.running = false;
                    return;
                }
            });
        if let Err(e) = spawned {
            tracing::error!(cause = %e, "cannot start the quality gates");
            self.gates_run
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .running = false;
        }
    }

    /// Runs the quality gates on the served knowledge and adds their findings to the status,
    /// unless another version was swapped in meanwhile. Blocking, and slow on a large FAQ (it
    /// asks every phrasing): prefer [`Live::check_quality_later`].
    pub fn check_quality(&self) {
        let (version, matcher) = {
            let state = self.state();
            (state.status.version, self.current.load_full())
        };
        let started = Instant::now();
        let findings = gates::gates(&matcher, &self.gates);
        let mut state = self.state();
        if state.status.version == version {
            tracing::info!(
                version,
                findings = findings.len(),
                ms = started.elapsed().as_millis() as u64,
                "quality gates checked"
            );
            state.status.quality = Some(findings);
        }
    }

    /// The matcher to answer with now. Hold it for the whole reply.
    pub fn matcher(&self) -> Arc<Matcher> {
        self.current.load_full()
    }

    pub fn faq_dir(&self) -> &Path {
        &self.faq
    }

    pub fn status(&self) -> Status {
        self.state().status.clone()
    }

    /// The served version (see [`Status::version`]), without copying the status.
    pub fn version(&self) -> u64 {
        self.state().status.version
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a plain value replaced whole: a panic elsewhere cannot leave it half-done.
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-reads both folders and swaps the new knowledge in, unless it brings problems the served
    /// knowledge did not have. Blocking (reads files, builds the index): call it off the async
    /// runtime (`spawn_blocking`) or from the watch thread.
    pub fn reload(&self, trigger: Trigger) -> Outcome {
        let outcome = self.reload_once(trigger);
        if let Some(observe) = &*self.observer.lock().unwrap_or_else(|p| p.into_inner()) {
            observe(&outcome);
        }
        outcome
    }

    fn reload_once(&self, trigger: Trigger) -> Outcome {
        let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let seen = fingerprint(&self.faq, &self.intents);
        if trigger == Trigger::Files && seen == self.state().seen {
            return Outcome::Unchanged;
        }
        self.state().seen = seen;
        let (knowledge, problems) = knowledge::load(&self.faq, &self.intents);
        let tolerated = self.state().tolerated.clone();
        let mut new: Vec<LoadError> = problems
            .iter()
            .filter(|p| blocks_reload(p) && !tolerated.contains(&key(p)))
            .cloned()
            .collect();
        if knowledge.entries.is_empty() && new.is_empty() {
            new.push(LoadError::new(
                &self.faq,
                None,
                "no FAQ entry could be loaded: the folder is empty or unreadable; restore the files",
            ));
        }
        if !new.is_empty() {
            for p in &new {
                tracing::warn!(problem = %p, ?trigger, "knowledge change refused; the previous knowledge keeps serving");
            }
            self.state().status.refused = Some(Refusal {
                at: now_ms(),
                trigger,
                problems: new.clone(),
            });
            return Outcome::Refused { problems: new };
        }

        let matcher = Arc::new(Matcher::new(Arc::new(knowledge)));
        let (entries, intents) = (
            matcher.knowledge().entries.len(),
            matcher.knowledge().intents.len(),
        );
        let version = {
            let mut state = self.state();
            // Swap under the status lock so the console never reads a version that is not
            // the one serving.
            self.current.store(matcher);
            let s = &mut state.status;
            s.version += 1;
            s.loaded_at = now_ms();
            s.trigger = trigger.clone();
            s.entries = entries;
            s.intents = intents;
            s.problems = problems.clone();
            s.quality = None;
            s.refused = None;
            // Only what is still broken stays tolerated: a file fixed and broken again is refused.
            state.tolerated = problems.iter().map(key).collect();
            state.status.version
        };
        release_memory();
        let took = started.elapsed();
        tracing::info!(
            version,
            entries,
            intents,
            ?trigger,
            ms = took.as_millis() as u64,
            "knowledge reloaded"
        );
        Outcome::Swapped { version, took }
    }

    /// Saves an entry edited in the console (see [`edit::save`]) and reloads at once, so the
    /// answer to "is it served?" comes with the save. Blocking.
    pub fn save(
        &self,
        draft: &EntryDraft,
        base: Option<&str>,
        advisor: &str,
    ) -> Result<SaveResult, (SaveError, Option<LastSave>)> {
        let mut edits = self.edits.lock().unwrap_or_else(|p| p.into_inner());
        let saved = match edit::save(&self.faq, draft, base) {
            Ok(saved) => saved,
            Err(e) => {
                let last = draft
                    .path_in(&self.faq)
                    .and_then(|p| edits.get(&p).cloned());
                return Err((e, last));
            }
        };
        edits.insert(
            saved.path.clone(),
            LastSave {
                advisor: advisor.to_owned(),
                at: now_ms(),
            },
        );
        drop(edits);
        tracing::info!(advisor, path = %saved.path.display(), revision = %saved.revision, "entry saved from the console");
        let outcome = self.reload(Trigger::Console {
            advisor: advisor.to_owned(),
        });
        Ok(SaveResult { saved, outcome })
    }

    /// Watches both folders and reloads after each burst of changes, on a thread of its own.
    /// The watch stops when the last `Arc<Live>` is dropped.
    pub fn watch(self: &Arc<Self>) -> Result<(), notify::Error> {
        let (tx, rx) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only when the watch thread ended: nothing left to tell.
            let _ = tx.send(event);
        })?;
        watcher.watch(&self.faq, RecursiveMode::Recursive)?;
        watcher.watch(&self.intents, RecursiveMode::Recursive)?;
        *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(watcher);
        self.state().status.watching = true;

        let live = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("knowledge-watch".into())
            .spawn(move || watch_loop(live, rx))
            .map_err(notify::Error::io)?;
        tracing::info!(faq = %self.faq.display(), intents = %self.intents.display(), "watching the knowledge files");
        Ok(())
    }
}

type WatchEvent = Result<notify::Event, notify::Error>;

fn watch_loop(live: Weak<Live>, rx: mpsc::Receiver<WatchEvent>) {
    while let Ok(first) = rx.recv() {
        let mut relevant = is_relevant(&first);
        // Let the burst settle: a save is often a write, a rename and a chmod.
        loop {
            match rx.recv_timeout(SETTLE) {
                Ok(event) => relevant |= is_relevant(&event),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        if !relevant {
            continue;
        }
        let Some(live) = live.upgrade() else { return };
        if let Outcome::Swapped { .. } = live.reload(Trigger::Files) {
            live.check_quality_later();
        }
    }
}

/// Changes to knowledge files, not to editors' swap files or our own temporary files.
fn is_relevant(event: &WatchEvent) -> bool {
    let event = match event {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(cause = %e, "file watch error; reloading to be safe");
            return true;
        }
    };
    if event.kind.is_access() {
        return false;
    }
    event.paths.iter().any(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        !name.starts_with('.')
            && !name.ends_with('~')
            && (ext == "md" || ext == "toml" || ext == "txt" || p.is_dir())
    })
}

/// Names, sizes and modification times of every file under both folders, hashed.
fn fingerprint(faq: &Path, intents: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    fn walk(dir: &Path, h: &mut std::collections::hash_map::DefaultHasher) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Ok(meta) = entry.metadata() else { continue };
            entry.file_name().hash(h);
            if meta.is_dir() {
                walk(&entry.path(), h);
            } else {
                meta.len().hash(h);
                meta.modified().ok().hash(h);
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    walk(faq, &mut h);
    walk(intents, &mut h);
    h.finish()
}

/// Whether a load problem stops a change from being served: errors do (the file cannot be
/// used), warnings do not (quality findings shown to authors).
fn blocks_reload(problem: &LoadError) -> bool {
    problem.is_error()
}

fn key(p: &LoadError) -> (PathBuf, String) {
    (p.path.clone(), p.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copy");
            }
        }
    }

    fn fixture() -> (tempfile::TempDir, Live) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&root.join("faq"), &dir.path().join("faq"));
        copy_dir(&root.join("intents"), &dir.path().join("intents"));
        let (live, problems) = Live::load(&dir.path().join("faq"), &dir.path().join("intents"));
        assert!(problems.is_empty(), "{problems:?}");
        (dir, live)
    }

    #[test]
    fn a_broken_file_is_refused_and_the_old_knowledge_keeps_answering() {
        let (dir, live) = fixture();
        let before = live.matcher();
        let path = dir.path().join("faq/fr/cout.md");
        std::fs::write(&path, "+++\nid = \"cout\nlang = \"fr\"\n+++\n").expect("write");
        let Outcome::Refused { problems } = live.reload(Trigger::Signal) else {
            panic!("a broken file must be refused")
        };
        assert!(problems[0].to_string().contains("cout.md:"), "{problems:?}");
        assert!(Arc::ptr_eq(&before, &live.matcher()));
        let status = live.status();
        assert_eq!(status.version, 1);
        assert!(status.refused.is_some());
        let reply = live.matcher().reply("combien ça coûte ?", None);
        assert_eq!(reply.faq_id.as_deref(), Some("cout"));
    }

    #[test]
    fn a_fixed_file_is_swapped_in_and_clears_the_refusal() {
        let (dir, live) = fixture();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let told = seen.clone();
        live.observe_reloads(Box::new(move |o: &Outcome| {
            told.lock().expect("not poisoned").push(o.as_str())
        }));
        let path = dir.path().join("faq/fr/cout.md");
        let good = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, "broken").expect("write");
        assert!(matches!(
            live.reload(Trigger::Files),
            Outcome::Refused { .. }
        ));
        let with_new_phrasing = good.replace(
            "  \"combien ça coûte ?\",\n",
            "  \"combien ça coûte ?\",\n  \"zorglub quantique\",\n",
        );
        assert_ne!(
            with_new_phrasing, good,
            "the fixture changed: update the test"
        );
        std::fs::write(&path, with_new_phrasing).expect("write");
        let Outcome::Swapped { version, .. } = live.reload(Trigger::Files) else {
            panic!("a good file must be swapped in")
        };
        assert_eq!(version, 2);
        assert_eq!(live.version(), 2);
        assert!(live.status().refused.is_none());
        assert_eq!(
            live.reload(Trigger::Files).as_str(),
            "unchanged",
            "the watcher saw nothing new"
        );
        assert_eq!(
            *seen.lock().expect("not poisoned"),
            ["refused", "swapped", "unchanged"]
        );
        let reply = live.matcher().reply("zorglub quantique", None);
        assert_eq!(reply.faq_id.as_deref(), Some("cout"));
    }

    #[test]
    fn quality_gates_run_in_the_background_once_per_burst() {
        let (_dir, live) = fixture();
        let live = Arc::new(live);
        assert!(live.status().quality.is_none());
        for _ in 0..5 {
            live.check_quality_later();
        }
        let started = Instant::now();
        while live.status().quality.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the gates never ran"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The shipped knowledge passes the gates.
        assert_eq!(live.status().quality, Some(Vec::new()));
        // Runs end: a later request starts a new run.
        while live.gates_run.lock().map(|g| g.running).unwrap_or(false) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the gates never ended"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
