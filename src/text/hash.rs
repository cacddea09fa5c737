//! A fast hasher for maps keyed by words or small integers (FxHash, the one rustc uses).
//! The matcher's maps are built once from the curated knowledge and only read per question.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`]. SipHash (std's default) guards a map against keys crafted to
/// collide, but these maps are filled from the knowledge files alone: a visitor's words are only
/// looked up, and hashing every knowledge word with SipHash was a large share of indexing time.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// FxHash: one rotate, xor and multiply per word of input.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    //! Equal keys hash equal; near keys (one letter, one trailing byte) do not collide.
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn near_words_hash_apart() {
        let build = BuildHasherDefault::<FxHasher>::default();
        let h = |s: &str| build.hash_one(s);
        assert_eq!(h("cirrhose"), h("cirrhose"));
        assert_ne!(h("cirrhose"), h("cirrhoses"));
        assert_ne!(h("foie"), h("foi"));
        assert_ne!(h("ab"), h("ba"));
        let mut map: FastMap<String, u32> = FastMap::default();
        map.insert("foie".to_owned(), 1);
        assert_eq!(map.get("foie"), Some(&1));
        assert_eq!(map.get("foi"), None);
    }
}
