//! A problem in one knowledge file: where it is, how serious it is and how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a finding is. The server refuses a reload only on errors; `faqbot check` fails on
/// both, so CI stays strict while a live edit by support staff is never blocked by a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Part of a file cannot be used as written (bad TOML, missing id, empty answer…): what it
    /// describes is left out, or would be wrong if served.
    Error,
    /// Everything loads and is served, but visitors may be served worse (few phrasings, a
    /// phrasing another entry answers, a follow-up that points nowhere, a wall of text…).
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem found while loading or checking the knowledge files. Displayed as
/// `faq/fr/cout.md:3: <what is wrong and what to do>` for an error and
/// `faq/fr/cout.md:3: warning: <…>` for a warning: `file:line:` first, the form editors and CI
/// logs link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub severity: Severity,
    /// The FAQ entry (or intent) id the finding is about, when known: the console groups by it.
    pub entry: Option<String>,
    pub message: String,
}

impl LoadError {
    /// An error: what it describes cannot be used.
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> LoadError {
        LoadError {
            path: path.to_path_buf(),
            line,
            severity: Severity::Error,
            entry: None,
            message: message.into(),
        }
    }

    /// A warning: served anyway, but worth fixing.
    pub fn warning(path: &Path, line: Option<usize>, message: impl Into<String>) -> LoadError {
        LoadError {
            severity: Severity::Warning,
            ..LoadError::new(path, line, message)
        }
    }

    /// Names the entry (or intent) the finding is about.
    pub fn for_entry(mut self, id: &str) -> LoadError {
        self.entry = Some(id.to_owned());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match self.severity {
            Severity::Error => write!(f, ": {}", self.message),
            Severity::Warning => write!(f, ": warning: {}", self.message),
        }
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_line_come_first_then_the_severity_of_a_warning() {
        let path = Path::new("faq/fr/cout.md");
        assert_eq!(
            LoadError::new(path, Some(3), "bad").to_string(),
            "faq/fr/cout.md:3: bad"
        );
        let w = LoadError::warning(path, None, "long").for_entry("cout");
        assert_eq!(w.to_string(), "faq/fr/cout.md: warning: long");
        assert_eq!(w.entry.as_deref(), Some("cout"));
        assert!(!w.is_error());
    }
}
