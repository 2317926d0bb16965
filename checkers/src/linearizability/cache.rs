//! The set of (linearized operations, model state) pairs the search has explored.
//!
//! Open addressing over `u32` slots; each entry stores its full hash and state, and
//! its bitset lives in one flat arena (`words` `u64`s per entry), so an insert
//! allocates only when a vector doubles, and equality is exact (the hash only finds
//! candidates). The hash of a bitset is Zobrist's (the XOR of a random word per
//! member), maintained incrementally by the search, so computing a key is O(1).
//!
//! Memory is bounded: before any vector grows, the cache computes what it would use
//! afterwards and refuses ([`Full`]) when that exceeds its budget.

use std::hash::{Hash, Hasher};

/// The cache would exceed its memory budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

pub struct Cache<S> {
    words: usize,
    /// Entry index + 1; 0 = empty.
    slots: Vec<u32>,
    keys: Vec<(u64, S)>,
    arena: Vec<u64>,
    budget: usize,
}

impl<S: Copy + Eq + Hash> Cache<S> {
    pub fn new(words: usize, budget: usize) -> Cache<S> {
        Cache { words, slots: vec![0; 1024], keys: Vec::new(), arena: Vec::new(), budget }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes held by the cache's vectors.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * 4
            + self.keys.capacity() * std::mem::size_of::<(u64, S)>()
            + self.arena.capacity() * 8
    }

    /// Inserts `(bits, state)` whose bitset hash is `zobrist`; `Ok(true)` when it was
    /// new, `Ok(false)` when already present.
    #[inline]
    pub fn insert(&mut self, zobrist: u64, state: &S, bits: &[u64]) -> Result<bool, Full> {
        let hash = zobrist ^ hash_state(state);
        let mask = self.slots.len() - 1;
        let mut at = spread(hash) & mask;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                break;
            }
            let e = (slot - 1) as usize;
            let (h, s) = &self.keys[e];
            if *h == hash && s == state && self.arena[e * self.words..(e + 1) * self.words] == *bits
            {
                return Ok(false);
            }
            at = (at + 1) & mask;
        }
        self.reserve()?;
        if (self.keys.len() + 1) * 2 > self.slots.len() {
            self.grow_slots()?;
            // the table changed: find the free slot again
            let mask = self.slots.len() - 1;
            at = spread(hash) & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
        }
        self.keys.push((hash, *state));
        self.arena.extend_from_slice(bits);
        self.slots[at] = self.keys.len() as u32;
        Ok(true)
    }

    /// Doubles `keys` and `arena` by hand when full, after checking the budget.
    fn reserve(&mut self) -> Result<(), Full> {
        let key_size = std::mem::size_of::<(u64, S)>();
        let mut extra = 0;
        let grow_keys = self.keys.len() == self.keys.capacity();
        let grow_arena = self.arena.len() + self.words > self.arena.capacity();
        if grow_keys {
            extra += self.keys.capacity().max(256) * key_size;
        }
        if grow_arena {
            extra += self.arena.capacity().max(256 * self.words) * 8;
        }
        if extra == 0 {
            return Ok(());
        }
        if self.bytes() + extra > self.budget {
            return Err(Full);
        }
        if grow_keys {
            self.keys.reserve_exact(self.keys.capacity().max(256));
        }
        if grow_arena {
            self.arena.reserve_exact(self.arena.capacity().max(256 * self.words));
        }
        Ok(())
    }

    fn grow_slots(&mut self) -> Result<(), Full> {
        let new_len = self.slots.len() * 2;
        if self.bytes() + new_len * 4 > self.budget {
            return Err(Full);
        }
        let mut slots = vec![0u32; new_len];
        let mask = new_len - 1;
        for (e, (h, _)) in self.keys.iter().enumerate() {
            let mut at = spread(*h) & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = e as u32 + 1;
        }
        self.slots = slots;
        Ok(())
    }
}

#[inline]
fn spread(h: u64) -> usize {
    (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) as usize >> 7
}

/// A fast, non-cryptographic hash of a model state.
#[inline]
pub fn hash_state<S: Hash>(state: &S) -> u64 {
    let mut h = WordHasher(0);
    state.hash(&mut h);
    h.finish()
}

/// Multiply-rotate hashing one machine word at a time; states are a few words long.
struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

/// Deterministic random words for Zobrist hashing (SplitMix64).
pub fn zobrist_keys(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_membership_and_growth() {
        let mut c: Cache<u32> = Cache::new(2, usize::MAX);
        for i in 0..5000u64 {
            // same hash for every entry: equality must come from state and bits
            assert_eq!(c.insert(7, &(i as u32 % 3), &[i, 0]), Ok(true));
        }
        for i in 0..5000u64 {
            assert_eq!(c.insert(7, &(i as u32 % 3), &[i, 0]), Ok(false));
            // a different state with the same bits is a different entry
            assert_eq!(c.insert(7, &(i as u32 % 3 + 1), &[i, 0]), Ok(true));
        }
    }

    #[test]
    fn budget_refuses_growth() {
        let mut c: Cache<u32> = Cache::new(1, 64 * 1024);
        let mut refused = false;
        for i in 0..100_000u64 {
            match c.insert(i, &0, &[i]) {
                Ok(_) => {}
                Err(Full) => {
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused);
        assert!(c.bytes() <= 64 * 1024, "{}", c.bytes());
    }
}
