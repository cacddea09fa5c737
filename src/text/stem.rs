//! Light stemming (Snowball) so that "injections", "injecter" and "injectée" meet.

use rust_stemmers::{Algorithm, Stemmer as Snowball};

use super::Lang;

/// Stemmers for both languages, built once and shared (they hold no per-call state).
pub struct Stemmer {
    fr: Snowball,
    en: Snowball,
}

impl Default for Stemmer {
    fn default() -> Self {
        Stemmer {
            fr: Snowball::create(Algorithm::French),
            en: Snowball::create(Algorithm::English),
        }
    }
}

impl std::fmt::Debug for Stemmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stemmer")
    }
}

impl Stemmer {
    /// The stem of a folded token. Digits and short tokens are kept as they are: a stemmer
    /// would turn "2011" or "b" into nonsense.
    pub fn stem(&self, lang: Lang, token: &str) -> String {
        if token.len() <= 3 || token.bytes().any(|b| b.is_ascii_digit()) {
            return token.to_owned();
        }
        let stemmer = match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        };
        stemmer.stem(token).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflections_meet() {
        let s = Stemmer::default();
        assert_eq!(
            s.stem(Lang::Fr, "injections"),
            s.stem(Lang::Fr, "injection")
        );
        assert_eq!(s.stem(Lang::Fr, "cellules"), s.stem(Lang::Fr, "cellule"));
        assert_eq!(
            s.stem(Lang::En, "improvements"),
            s.stem(Lang::En, "improvement")
        );
        assert_eq!(s.stem(Lang::Fr, "2011"), "2011");
    }
}
