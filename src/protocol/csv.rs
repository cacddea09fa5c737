//! CSV written in memory for spreadsheets, every field defused so that visitors' words cannot
//! run as formulas. Shared by the leads export and `faqbot report --csv`.

/// A CSV field made harmless for spreadsheets. One that starts with `=`, `+`, `-`, `@`, a tab
/// or a carriage return is read as a formula by Excel, LibreOffice and Sheets (which can call
/// out, or run commands through DDE), so it gets a `'` in front and reads as text. A phone
/// number (`+33 6 12 34 56 78`) is left as typed: it names no function and must stay readable.
pub fn defuse_csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) && !phone_like(field) {
        std::borrow::Cow::Owned(format!("'{field}"))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

/// Digits, spaces, dots, dashes and parentheses after an optional leading `+`, with a digit at
/// least: at worst a spreadsheet does arithmetic with it, it cannot call anything.
fn phone_like(field: &str) -> bool {
    let rest = field.strip_prefix('+').unwrap_or(field);
    rest.chars().any(|c| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
}

/// A CSV table written in memory by the `csv` crate (quoting as needed), every field defused.
pub(super) struct CsvOut(csv::Writer<Vec<u8>>);

impl CsvOut {
    pub(super) fn new() -> CsvOut {
        CsvOut(csv::Writer::from_writer(Vec::new()))
    }

    pub(super) fn row<I, F>(&mut self, fields: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = F>,
        F: AsRef<str>,
    {
        self.0.write_record(
            fields
                .into_iter()
                .map(|f| defuse_csv_field(f.as_ref()).into_owned()),
        )
    }

    pub(super) fn finish(self) -> Result<String, csv::Error> {
        let bytes = self
            .0
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        // Only `&str` went in, so this is UTF-8; the error is kept rather than assumed away.
        String::from_utf8(bytes)
            .map_err(|e| csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_that_a_spreadsheet_would_run_get_a_quote_but_phone_numbers_stay() {
        for (field, expected) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+SUM(A1:A9)", "'+SUM(A1:A9)"),
            ("-2+3", "'-2+3"),
            ("@SUM(1)", "'@SUM(1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("+33 6 =1", "'+33 6 =1"),
            ("+", "'+"),
            ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),
            ("+1 (555) 010-0199", "+1 (555) 010-0199"),
            ("06.12.34.56.78", "06.12.34.56.78"),
            ("-0.25", "-0.25"),
            ("Marie = Dupont", "Marie = Dupont"),
            ("", ""),
        ] {
            assert_eq!(defuse_csv_field(field), expected, "{field:?}");
        }
    }
}
