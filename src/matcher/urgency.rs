//! The urgency check: a logistic model over the words and letter groups of the urgency examples
//! (`intents/urgency/`), trained at load, that withholds an emergency rule's 112 when it is
//! confident the message describes no emergency now, and sends one no rule sent when a message
//! names a warning sign and it is more confident than of any non-urgent example.
//!
//! The rules fire on vocabulary ("vomir du sang", "selles noires"), and visitors use that
//! vocabulary without an emergency: a nurse's question, a risk of the treatment, last year's
//! bleeding. Lexicon fixes did not carry to messages nobody had read; a model of how urgent and
//! non-urgent messages are written does, a little (README, "The urgency check"). The features and
//! the solver are those of the offline experiment (`tools/experiments/emergency_veto.py`):
//! TF-IDF of word 1–2-grams and of 3–5-letter groups within words, logistic regression with
//! balanced classes, C = 4 (liblinear's dual coordinate descent, so the same files give the same
//! weights on every machine).

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use crate::knowledge::UrgencyExample;
use crate::text::fold;
use crate::text::FastMap;

/// Inverse regularisation strength. In the offline experiment C = 1 withheld fewer false 112s
/// at its zero-loss threshold (19 against 23 of 63 on unseen sets).
const C: f64 = 4.0;
/// Cross-validation folds; an example's family stays within one.
const FOLDS: usize = 5;
/// A word or letter group seen in fewer examples says nothing general.
const MIN_DF: u32 = 2;
/// Dual coordinate descent stops when the largest gradient falls under this share of the
/// first pass's, or after `MAX_PASSES`.
const TOLERANCE: f64 = 1e-3;
const MAX_PASSES: usize = 200;
/// Passes over the rest after a fold is taken out (warm-started from the full model).
const FOLD_PASSES: usize = 30;
/// The threshold never goes above this, whatever cross-validation allows: the check is there to
/// withhold a 112 it is nearly sure of, not to weigh close cases.
const MAX_THRESHOLD: f32 = 0.2;
/// A 112 no rule sent needs at least this probability, whatever cross-validation allows: the
/// rules decide, and the check only catches the emergencies their word lists do not spell
/// ("un côté de son visage tombe"), where it is nearly sure. At 0.8 "ma fille de 10 ans a 38,5
/// de fièvre depuis 3 jours, elle joue" (0.807) got a 112; on the unseen sets 0.9 catches the
/// same emergencies.
const ALARM_FLOOR: f32 = 0.9;

/// What the emergency rules make of a message, as the check needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// A rule fires; `checked`: the check may withhold its 112 (nobody is said to have the
    /// sign, it is not said to be now, and the intent is checked).
    Fire { checked: bool },
    /// No rule fires, but the message names a warning sign: the check may send a 112.
    SignOnly,
    /// No rule fires and no warning sign is named: the check says nothing.
    Silent,
}

/// The trained model: which n-grams it knows, their idf and their weights.
pub struct UrgencyModel {
    features: FastMap<u64, u32>,
    idf: Vec<f32>,
    /// One weight per feature, then the bias.
    weights: Vec<f32>,
    /// Each example's probability from the fold that did not see it, in the examples' order.
    cross_validated: Vec<f32>,
}

/// The model with the threshold chosen for the rules it checks.
pub struct UrgencyCheck {
    model: Arc<UrgencyModel>,
    /// A rule's 112 is withheld when the message's probability of being urgent is below this.
    pub threshold: f32,
    /// The urgent example that set the threshold (None: `MAX_THRESHOLD` did), for authors: a
    /// mislabelled or borderline line there holds the whole check back.
    limit: Option<String>,
    /// A message that names a warning sign and that no rule sends to 112 is sent there when its
    /// probability is above this: the highest cross-validated probability of a non-urgent
    /// example like it, and never below `ALARM_FLOOR`.
    pub alarm: f32,
    /// The non-urgent example that set `alarm` (None: `ALARM_FLOOR` did).
    alarm_limit: Option<String>,
}

/// What cross-validation measured, for `faqbot calibrate` and README.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrgencyStats {
    pub urgent: usize,
    pub not_urgent: usize,
    /// Examples on which an emergency rule fires, by side.
    pub fired_urgent: usize,
    pub fired_not_urgent: usize,
    /// Of those, withheld at the threshold, cross-validated (a withheld urgent one is a loss).
    pub withheld_urgent: usize,
    pub withheld_not_urgent: usize,
    /// The urgent example whose probability is the threshold.
    pub limit: Option<String>,
    /// The non-urgent examples that a rule fires on and cross-validation did not withhold, in
    /// file order: where an author can add an exception to a rule, or more examples like them.
    pub still_alarmed: Vec<String>,
    /// Examples that name a warning sign and that no rule fires on, by side.
    pub sign_only_urgent: usize,
    pub sign_only_not_urgent: usize,
    /// Of those, sent to 112 by the check, cross-validated (a non-urgent one is a false 112).
    pub alarmed_urgent: usize,
    pub alarmed_not_urgent: usize,
    /// The non-urgent example whose probability is the alarm threshold.
    pub alarm_limit: Option<String>,
    /// The urgent examples that no rule fires on and the check did not send to 112 either, in
    /// file order: where a rule lacks a word, or the check more examples.
    pub missed: Vec<String>,
}

impl UrgencyCheck {
    /// Trains on `examples` (or takes the model trained on the same examples before) and sets
    /// the threshold at the lowest cross-validated probability of an urgent example a rule fires
    /// on (none of them would have lost its 112), and the alarm at the highest of a non-urgent
    /// example that names a sign no rule fires on (none of them would have got a 112). `rules`
    /// says what the emergency rules make of a message.
    pub fn new(examples: &[UrgencyExample], rules: impl Fn(&str) -> Rules) -> Option<UrgencyCheck> {
        let model = cached(examples)?;
        let side = |urgent: bool| {
            examples
                .iter()
                .zip(&model.cross_validated)
                .filter(move |(e, _)| e.urgent == urgent)
                .map(|(e, &p)| (p, e.text.as_str()))
        };
        // The lowest urgent probability first: the first the rules fire on is the threshold, and
        // examples at or above `MAX_THRESHOLD` cannot lower it (a reload asks the rules of a
        // handful of examples, not of thousands).
        let (threshold, limit) = first_said(
            side(true).filter(|&(p, _)| p < MAX_THRESHOLD).collect(),
            |a, b| a.total_cmp(&b),
            |text| rules(text) == Rules::Fire { checked: true },
        )
        .map_or((MAX_THRESHOLD, None), |(p, text)| (p, Some(text)));
        // The same the other way: the highest non-urgent probability first, and only those
        // above the floor can raise it.
        let (alarm, alarm_limit) = first_said(
            side(false).filter(|&(p, _)| p > ALARM_FLOOR).collect(),
            |a, b| b.total_cmp(&a),
            |text| rules(text) == Rules::SignOnly,
        )
        .map_or((ALARM_FLOOR, None), |(p, text)| (p, Some(text)));
        Some(UrgencyCheck {
            model,
            threshold,
            limit,
            alarm,
            alarm_limit,
        })
    }

    /// What cross-validation measures at the two thresholds. `rules` says what the emergency
    /// rules make of a message. It is asked of every example: for `faqbot calibrate`, not at
    /// each load.
    pub fn stats(
        &self,
        examples: &[UrgencyExample],
        rules: impl Fn(&str) -> Rules + Sync,
    ) -> UrgencyStats {
        let said = in_parallel(examples, |e: &UrgencyExample| rules(&e.text));
        let mut stats = UrgencyStats {
            limit: self.limit.clone(),
            alarm_limit: self.alarm_limit.clone(),
            ..UrgencyStats::default()
        };
        for ((e, &p), said) in examples.iter().zip(&self.model.cross_validated).zip(said) {
            let fired = matches!(said, Rules::Fire { .. });
            let withheld = said == Rules::Fire { checked: true } && p < self.threshold;
            let sign_only = said == Rules::SignOnly;
            let alarmed = sign_only && p > self.alarm;
            if fired && !withheld && !e.urgent {
                stats.still_alarmed.push(e.text.clone());
            }
            if e.urgent && !fired && !alarmed {
                stats.missed.push(e.text.clone());
            }
            let count = usize::from;
            if e.urgent {
                stats.urgent += 1;
                stats.fired_urgent += count(fired);
                stats.withheld_urgent += count(withheld);
                stats.sign_only_urgent += count(sign_only);
                stats.alarmed_urgent += count(alarmed);
            } else {
                stats.not_urgent += 1;
                stats.fired_not_urgent += count(fired);
                stats.withheld_not_urgent += count(withheld);
                stats.sign_only_not_urgent += count(sign_only);
                stats.alarmed_not_urgent += count(alarmed);
            }
        }
        stats
    }

    /// The probability that `message` describes an emergency now.
    pub fn probability(&self, message: &str) -> f32 {
        self.model.probability(message)
    }
}

/// Of `examples` (probability, text) in the order `order` puts their probabilities, the first
/// that `wanted` holds for: its probability and text.
fn first_said(
    mut examples: Vec<(f32, &str)>,
    order: impl Fn(f32, f32) -> std::cmp::Ordering,
    wanted: impl Fn(&str) -> bool,
) -> Option<(f32, String)> {
    examples.sort_by(|a, b| order(a.0, b.0));
    examples
        .into_iter()
        .find(|(_, text)| wanted(text))
        .map(|(p, text)| (p, text.to_owned()))
}

/// How many models (sets of examples) are kept: a reload that changed the examples keeps the
/// one before, and the tests' matchers over other examples do not evict the shipped one.
const KEPT: usize = 4;

/// A model being trained or trained once, shared by everyone who asks for the same examples.
type Slot = Arc<OnceLock<Option<Arc<UrgencyModel>>>>;

/// The model of these examples: trained on the first request, then kept (reloads that leave
/// `intents/urgency/` alone, and the tests' many matchers, do not train again). Requests for
/// the same examples wait for one training; requests for others do not wait for it.
fn cached(examples: &[UrgencyExample]) -> Option<Arc<UrgencyModel>> {
    static MODELS: Mutex<Vec<(u64, Slot)>> = Mutex::new(Vec::new());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    examples.hash(&mut h);
    let key = h.finish();
    let slot = {
        let mut models = MODELS.lock().unwrap_or_else(|p| p.into_inner());
        let slot = match models.iter().position(|(k, _)| *k == key) {
            Some(i) => models.remove(i).1,
            None => Slot::default(),
        };
        // The most recently asked last; the oldest goes first.
        models.push((key, slot.clone()));
        if models.len() > KEPT {
            models.remove(0);
        }
        slot
    };
    slot.get_or_init(|| UrgencyModel::train(examples).map(Arc::new))
        .clone()
}

/// Every example's sparse row, one after the other in one allocation: (feature index, value),
/// the bias last in each. Thousands of small vectors would stay resident after training.
struct Rows {
    values: Vec<(u32, f32)>,
    /// Where each row ends in `values`.
    ends: Vec<usize>,
}

impl Rows {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[(u32, f32)] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.values[start..self.ends[i]]
    }
}

impl UrgencyModel {
    /// None without examples on both sides.
    pub fn train(examples: &[UrgencyExample]) -> Option<UrgencyModel> {
        let urgent = examples.iter().filter(|e| e.urgent).count();
        if urgent == 0 || urgent == examples.len() {
            return None;
        }
        // Two passes over the texts (document frequencies, then rows) rather than keeping every
        // example's n-grams: the same work twice costs ~0.1 s, keeping them ~50 MB.
        let mut df: FastMap<u64, u32> = FastMap::default();
        for part in in_chunks(examples, |chunk: &[UrgencyExample]| {
            let mut df: FastMap<u64, u32> = FastMap::default();
            for e in chunk {
                for (h, _, _) in counted_grams(&e.text) {
                    *df.entry(h).or_default() += 1;
                }
            }
            df
        }) {
            for (h, n) in part {
                *df.entry(h).or_default() += n;
            }
        }
        // Indices in a deterministic order: sorted hashes.
        let mut kept: Vec<(u64, u32)> = df.into_iter().filter(|&(_, n)| n >= MIN_DF).collect();
        kept.sort_unstable();
        let n = examples.len() as f32;
        let idf: Vec<f32> = kept
            .iter()
            .map(|&(_, d)| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let features: FastMap<u64, u32> = kept
            .iter()
            .enumerate()
            .map(|(i, &(h, _))| (h, i as u32))
            .collect();
        drop(kept);
        let mut model = UrgencyModel {
            weights: vec![0.0; features.len() + 1],
            features,
            idf,
            cross_validated: Vec::new(),
        };
        let parts = in_chunks(examples, |chunk: &[UrgencyExample]| {
            let mut values = Vec::new();
            let mut ends = Vec::with_capacity(chunk.len());
            for e in chunk {
                model.push_row(&counted_grams(&e.text), &mut values);
                ends.push(values.len());
            }
            (values, ends)
        });
        let mut rows = Rows {
            values: Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum()),
            ends: Vec::with_capacity(examples.len()),
        };
        for (values, ends) in parts {
            let base = rows.values.len();
            rows.values.extend(values);
            rows.ends.extend(ends.into_iter().map(|e| base + e));
        }
        let y: Vec<f64> = examples
            .iter()
            .map(|e| if e.urgent { 1.0 } else { -1.0 })
            .collect();
        // Balanced classes: each side weighs as much in the loss, whatever its size.
        let total = examples.len() as f64;
        let upper: Vec<f64> = examples
            .iter()
            .map(|e| {
                let side = if e.urgent {
                    urgent
                } else {
                    examples.len() - urgent
                };
                C * total / (2.0 * side as f64)
            })
            .collect();
        let dims = model.weights.len();
        let mut solver = Dual::new(&rows, &y, &upper, dims);
        let all: Vec<usize> = (0..rows.len()).collect();
        solver.solve(&all, MAX_PASSES);

        // Each fold from the full solution without it: a few passes instead of a new solve.
        let folds = folds(examples);
        let parts: Vec<usize> = (0..FOLDS).collect();
        let predicted = in_parallel(&parts, |&fold: &usize| {
            let (held, rest): (Vec<usize>, Vec<usize>) =
                (0..rows.len()).partition(|&i| folds[i] == fold);
            if held.is_empty() {
                return Vec::new();
            }
            let mut part = solver.without(&held);
            part.solve(&rest, FOLD_PASSES);
            held.into_iter()
                .map(|i| (i, sigmoid(dot(&part.w, rows.get(i)))))
                .collect::<Vec<_>>()
        });
        let mut cross_validated = vec![0.0f32; rows.len()];
        for (i, p) in predicted.into_iter().flatten() {
            cross_validated[i] = p;
        }
        model.weights = solver.w.iter().map(|&w| w as f32).collect();
        model.cross_validated = cross_validated;
        Some(model)
    }

    pub fn probability(&self, message: &str) -> f32 {
        let mut row = Vec::new();
        self.push_row(&counted_grams(message), &mut row);
        sigmoid(
            row.iter()
                .map(|&(i, v)| f64::from(self.weights[i as usize]) * f64::from(v))
                .sum(),
        )
    }

    /// Appends the row of `grams` to `out`: TF-IDF with sublinear counts, each block (words,
    /// letter groups) of unit length, sorted by feature, then the bias; n-grams the model does
    /// not know are left out.
    fn push_row(&self, grams: &[(u64, Block, u32)], out: &mut Vec<(u32, f32)>) {
        let start = out.len();
        let mut norms = [0.0f32; 2];
        for &(h, block, count) in grams {
            if let Some(&i) = self.features.get(&h) {
                let v = (1.0 + (count as f32).ln()) * self.idf[i as usize];
                norms[block as usize] += v * v;
                // The block rides in the top bit until the norms are known.
                out.push((i | ((block as u32) << 31), v));
            }
        }
        let norms = norms.map(f32::sqrt);
        for r in &mut out[start..] {
            let block = (r.0 >> 31) as usize;
            r.0 &= !(1 << 31);
            if norms[block] > 0.0 {
                r.1 /= norms[block];
            }
        }
        out[start..].sort_unstable_by_key(|r| r.0);
        out.push((self.features.len() as u32, 1.0));
    }
}

/// `f` over `items` in one chunk per core, results in the chunks' order.
fn in_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| f(part)))
            .collect();
        handles
            .into_iter()
            // A panic in a worker is a bug: raise it here.
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// `f` over `items` on the machine's cores, results in the items' order.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    in_chunks(items, |chunk: &[T]| {
        chunk.iter().map(&f).collect::<Vec<R>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

fn sigmoid(z: f64) -> f32 {
    (1.0 / (1.0 + (-z).exp())) as f32
}

fn dot(w: &[f64], row: &[(u32, f32)]) -> f64 {
    row.iter().map(|&(i, v)| w[i as usize] * f64::from(v)).sum()
}

/// Each example's fold: whole families, dealt round the folds in name order (by line when
/// there are too few families to spread).
fn folds(examples: &[UrgencyExample]) -> Vec<usize> {
    let mut families: Vec<&str> = examples.iter().map(|e| e.family.as_str()).collect();
    families.sort_unstable();
    families.dedup();
    if families.len() < FOLDS {
        return (0..examples.len()).map(|i| i % FOLDS).collect();
    }
    examples
        .iter()
        .map(|e| families.binary_search(&e.family.as_str()).unwrap_or(0) % FOLDS)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Words = 0,
    Letters = 1,
}

/// The message's n-grams with their counts: words of two letters or more and pairs of them,
/// and 3- to 5-letter groups of each space-separated token with a space either side (a token
/// shorter than that counts once, whole), as scikit-learn's `char_wb`.
fn counted_grams(message: &str) -> Vec<(u64, Block, u32)> {
    let text = fold(message);
    let mut all: Vec<(u64, Block)> = Vec::new();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.chars().nth(1).is_some())
        .collect();
    for w in &words {
        all.push((fnv(&[b"w", w.as_bytes()]), Block::Words));
    }
    for pair in words.windows(2) {
        let h = fnv(&[b"b", pair[0].as_bytes(), b" ", pair[1].as_bytes()]);
        all.push((h, Block::Words));
    }
    let mut padded = String::new();
    let mut at: Vec<usize> = Vec::new();
    for token in text.split_whitespace() {
        padded.clear();
        padded.push(' ');
        padded.push_str(token);
        padded.push(' ');
        at.clear();
        at.extend(padded.char_indices().map(|(i, _)| i));
        at.push(padded.len());
        let chars = at.len() - 1;
        for n in 3..=5 {
            if chars <= n {
                all.push((fnv(&[b"c", padded.as_bytes()]), Block::Letters));
                break;
            }
            for start in 0..=chars - n {
                let gram = &padded.as_bytes()[at[start]..at[start + n]];
                all.push((fnv(&[b"c", gram]), Block::Letters));
            }
        }
    }
    all.sort_unstable_by_key(|g| g.0);
    let mut out: Vec<(u64, Block, u32)> = Vec::with_capacity(all.len());
    for (h, block) in all {
        match out.last_mut() {
            Some(last) if last.0 == h => last.2 += 1,
            _ => out.push((h, block, 1)),
        }
    }
    out
}

/// FNV-1a over the parts: stable across machines and Rust versions (the std hasher is not
/// promised to be).
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// L2-regularised logistic regression by dual coordinate descent (Yu, Huang & Lin 2011, as
/// liblinear's `solve_l2r_lr_dual`): each example's dual variable in (0, C_i) is moved by a few
/// Newton steps while `w` = Σ y_i α_i x_i is kept up to date.
#[derive(Clone)]
struct Dual<'a> {
    rows: &'a Rows,
    y: &'a [f64],
    upper: &'a [f64],
    /// α_i and C_i − α_i, side by side (liblinear's layout: both stay away from 0 exactly).
    alpha: Vec<f64>,
    w: Vec<f64>,
    sq_norm: Vec<f64>,
}

impl<'a> Dual<'a> {
    fn new(rows: &'a Rows, y: &'a [f64], upper: &'a [f64], dims: usize) -> Dual<'a> {
        let mut w = vec![0.0; dims];
        let mut alpha = vec![0.0; 2 * rows.len()];
        let mut sq_norm = Vec::with_capacity(rows.len());
        for i in 0..rows.len() {
            let row = rows.get(i);
            alpha[2 * i] = (0.001 * upper[i]).min(1e-8);
            alpha[2 * i + 1] = upper[i] - alpha[2 * i];
            for &(j, v) in row {
                w[j as usize] += y[i] * alpha[2 * i] * f64::from(v);
            }
            sq_norm.push(row.iter().map(|&(_, v)| f64::from(v) * f64::from(v)).sum());
        }
        Dual {
            rows,
            y,
            upper,
            alpha,
            w,
            sq_norm,
        }
    }

    /// The same solution with the `held` examples taken out (their α to zero).
    fn without(&self, held: &[usize]) -> Dual<'a> {
        let mut part = self.clone();
        for &i in held {
            let a = part.alpha[2 * i];
            for &(j, v) in self.rows.get(i) {
                part.w[j as usize] -= self.y[i] * a * f64::from(v);
            }
            part.alpha[2 * i] = 0.0;
        }
        part
    }

    /// Passes over `active` in a shuffled order (a fixed seed: same examples, same weights)
    /// until the largest gradient is small.
    fn solve(&mut self, active: &[usize], passes: usize) {
        let mut order = active.to_vec();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut inner_eps = 1e-2;
        let mut first_gmax = None;
        for _ in 0..passes {
            for k in (1..order.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                order.swap(k, (seed % (k as u64 + 1)) as usize);
            }
            let mut gmax: f64 = 0.0;
            let mut newton_steps = 0;
            for &i in &order {
                let c = self.upper[i];
                let a = self.sq_norm[i];
                let b = self.y[i] * dot(&self.w, self.rows.get(i));
                // Move whichever of α_i and C_i − α_i the gradient points away from.
                let (ind1, ind2, sign) =
                    if 0.5 * a * (self.alpha[2 * i + 1] - self.alpha[2 * i]) + b < 0.0 {
                        (2 * i + 1, 2 * i, -1.0)
                    } else {
                        (2 * i, 2 * i + 1, 1.0)
                    };
                let old = self.alpha[ind1];
                let mut z = old;
                if c - z < 0.5 * c {
                    z *= 0.1;
                }
                let mut gp = a * (z - old) + sign * b + (z / (c - z)).ln();
                gmax = gmax.max(gp.abs());
                let mut steps = 0;
                while steps < 100 && gp.abs() >= inner_eps {
                    let gpp = a + c / (c - z) / z;
                    let next = z - gp / gpp;
                    z = if next <= 0.0 { z * 0.1 } else { next };
                    gp = a * (z - old) + sign * b + (z / (c - z)).ln();
                    steps += 1;
                }
                newton_steps += steps;
                if steps > 0 {
                    self.alpha[ind1] = z;
                    self.alpha[ind2] = c - z;
                    let step = sign * (z - old) * self.y[i];
                    for &(j, v) in self.rows.get(i) {
                        self.w[j as usize] += step * f64::from(v);
                    }
                }
            }
            let first = *first_gmax.get_or_insert(gmax);
            if gmax <= TOLERANCE * first {
                break;
            }
            if newton_steps <= order.len() / 10 {
                inner_eps = (0.1 * inner_eps).max(1e-8);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, urgent: bool, family: &str) -> UrgencyExample {
        UrgencyExample {
            text: text.to_owned(),
            urgent,
            family: family.to_owned(),
        }
    }

    #[test]
    fn letter_groups_are_those_of_scikit_learns_char_wb() {
        // " de " is 4 characters: its 3-grams " de", "de ", then itself once as 4 and done.
        let grams = counted_grams("De");
        let letters: Vec<u64> = grams
            .iter()
            .filter(|g| g.1 == Block::Letters)
            .map(|g| g.0)
            .collect();
        let mut want = vec![
            fnv(&[b"c", b" de"]),
            fnv(&[b"c", b"de "]),
            fnv(&[b"c", b" de "]),
        ];
        want.sort_unstable();
        assert_eq!(letters, want);
        // One-letter words are no word; accents and case are folded.
        let words: Vec<u64> = counted_grams("À Évian")
            .iter()
            .filter(|g| g.1 == Block::Words)
            .map(|g| g.0)
            .collect();
        assert_eq!(words, [fnv(&[b"w", b"evian"])]);
    }

    #[test]
    fn it_learns_which_side_a_new_message_is_on_and_cross_validates_by_family() {
        let mut examples = Vec::new();
        for (f, who) in [
            "mon père",
            "ma mère",
            "mon fils",
            "ma femme",
            "mon mari",
            "ma soeur",
        ]
        .iter()
        .enumerate()
        {
            let family = format!("f{f}");
            examples.push(ex(
                &format!("{who} vomit du sang maintenant"),
                true,
                &family,
            ));
            examples.push(ex(
                &format!("{who} a des selles noires depuis ce matin"),
                true,
                &family,
            ));
            examples.push(ex(
                &format!("le traitement peut-il faire vomir du sang à {who} ?"),
                false,
                &family,
            ));
            examples.push(ex(
                &format!("les selles noires sont-elles un effet secondaire pour {who} ?"),
                false,
                &family,
            ));
        }
        let model = UrgencyModel::train(&examples).expect("both sides");
        let now = model.probability("mon oncle vomit du sang maintenant");
        let asks = model.probability("le traitement peut-il faire vomir du sang à mon oncle ?");
        assert!(now > 0.5 && asks < 0.5, "now {now}, asks {asks}");
        assert_eq!(model.cross_validated.len(), examples.len());
        // Same examples, same weights: nothing depends on the run.
        let again = UrgencyModel::train(&examples).expect("both sides");
        assert_eq!(model.weights, again.weights);
        assert_eq!(model.cross_validated, again.cross_validated);
    }

    #[test]
    fn the_threshold_spares_every_urgent_example_a_rule_fires_on() {
        let mut examples = Vec::new();
        for f in 0..6 {
            let family = format!("f{f}");
            examples.push(ex(&format!("patient {f} vomit du sang là"), true, &family));
            examples.push(ex(
                &format!("question {f} : vomir du sang, risque ?"),
                false,
                &family,
            ));
            examples.push(ex(
                &format!("il a vomi du sang il y a {f} ans"),
                false,
                &family,
            ));
        }
        let rules = |t: &str| {
            if t.contains("sang") {
                Rules::Fire { checked: true }
            } else {
                Rules::Silent
            }
        };
        let check = UrgencyCheck::new(&examples, rules).expect("trained");
        let stats = check.stats(&examples, rules);
        let lowest_urgent = examples
            .iter()
            .zip(&check.model.cross_validated)
            .filter(|(e, _)| e.urgent)
            .map(|(_, &p)| p)
            .fold(1.0f32, f32::min);
        assert!(check.threshold <= lowest_urgent);
        assert_eq!(stats.withheld_urgent, 0);
        assert_eq!(stats.fired_urgent, 6);
        assert_eq!(stats.fired_not_urgent, 12);
        assert_eq!(
            stats.still_alarmed.len(),
            stats.fired_not_urgent - stats.withheld_not_urgent
        );
    }

    #[test]
    fn the_alarm_sends_no_non_urgent_example_to_112_and_never_sits_below_its_floor() {
        // The rules know "sang" and not "bave": urgent examples that drool go unsent by them.
        let mut examples = Vec::new();
        for f in 0..8 {
            let family = format!("f{f}");
            examples.push(ex(
                &format!("patient {f} bave et ne parle plus là"),
                true,
                &family,
            ));
            examples.push(ex(&format!("patient {f} vomit du sang là"), true, &family));
            examples.push(ex(
                &format!("question {f} : un bébé qui bave, c'est normal ?"),
                false,
                &family,
            ));
            examples.push(ex(&format!("il a bavé il y a {f} ans"), false, &family));
        }
        let rules = |t: &str| {
            if t.contains("sang") {
                Rules::Fire { checked: true }
            } else if t.contains("bav") {
                Rules::SignOnly
            } else {
                Rules::Silent
            }
        };
        let check = UrgencyCheck::new(&examples, rules).expect("trained");
        let highest_not_urgent = examples
            .iter()
            .zip(&check.model.cross_validated)
            .filter(|(e, _)| !e.urgent)
            .map(|(_, &p)| p)
            .fold(0.0f32, f32::max);
        assert!(check.alarm >= ALARM_FLOOR);
        assert!(check.alarm >= highest_not_urgent);
        let stats = check.stats(&examples, rules);
        assert_eq!(stats.alarmed_not_urgent, 0);
        assert_eq!(
            (stats.sign_only_urgent, stats.sign_only_not_urgent),
            (8, 16)
        );
        assert!(stats.alarmed_urgent > 0, "{stats:?}");
        assert_eq!(stats.missed.len(), 8 - stats.alarmed_urgent);
        // A message nothing like the examples cannot be alarming by default.
        assert!(check.probability("bonjour, quels sont vos horaires ?") < check.alarm);
    }

    #[test]
    fn a_model_is_trained_once_per_set_of_examples_and_another_set_does_not_evict_it() {
        let set = |word: &str| {
            (0..6)
                .flat_map(|f| {
                    let family = format!("f{f}");
                    [
                        ex(&format!("{word} {f} vomit du sang"), true, &family),
                        ex(
                            &format!("{word} {f} : risque de saignement ?"),
                            false,
                            &family,
                        ),
                    ]
                })
                .collect::<Vec<_>>()
        };
        let (a, b) = (set("cache-a"), set("cache-b"));
        let first = cached(&a).expect("trained");
        let other = cached(&b).expect("trained");
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(Arc::ptr_eq(&first, &cached(&a).expect("kept")));
    }

    #[test]
    fn one_sided_examples_train_nothing() {
        assert!(UrgencyModel::train(&[ex("il vomit du sang", true, "")]).is_none());
    }
}
