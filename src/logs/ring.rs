//! The last bytes of a stream, kept in memory with their position in the stream, so tails
//! and crash records never depend on what is still on disk.

use std::collections::VecDeque;

/// A bounded byte ring addressed by stream offsets (bytes written since the stream opened).
#[derive(Debug, Clone)]
pub struct Ring {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// Stream offset of `bytes[0]`.
    start: u64,
}

impl Ring {
    /// An empty ring holding at most `capacity` bytes; memory grows only as bytes arrive.
    pub fn new(capacity: usize) -> Self {
        Ring {
            bytes: VecDeque::new(),
            capacity,
            start: 0,
        }
    }

    /// Starts an empty ring at stream offset `offset` (bytes that exist only on disk).
    pub fn skip_to(&mut self, offset: u64) {
        self.bytes.clear();
        self.start = offset;
    }

    /// Stream offset of the first byte held.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Stream offset just past the last byte held (the stream's total length).
    pub fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// Appends `data`, dropping the oldest bytes beyond the capacity.
    pub fn push(&mut self, data: &[u8]) {
        let keep = data.len().min(self.capacity);
        let skipped = data.len() - keep;
        self.start += skipped as u64;
        self.bytes.extend(&data[skipped..]);
        let excess = self.bytes.len().saturating_sub(self.capacity);
        self.bytes.drain(..excess);
        self.start += excess as u64;
    }

    /// The bytes from stream offset `from` to the end, if the ring still holds `from`.
    pub fn since(&self, from: u64) -> Option<Vec<u8>> {
        if from < self.start || from > self.end() {
            return None;
        }
        let skip = usize::try_from(from - self.start).ok()?;
        Some(self.bytes.iter().skip(skip).copied().collect())
    }

    /// Forgets every byte (the stream continues at the same offset).
    pub fn clear(&mut self) {
        self.start = self.end();
        self.bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_bytes_with_their_offsets() {
        let mut ring = Ring::new(5);
        ring.push(b"abc");
        ring.push(b"defg");
        assert_eq!((ring.start(), ring.end()), (2, 7));
        assert_eq!(ring.since(4).as_deref(), Some(&b"efg"[..]));
        assert_eq!(ring.since(1), None);
        ring.push(b"0123456789");
        assert_eq!(ring.since(12).as_deref(), Some(&b"56789"[..]));
        ring.clear();
        assert_eq!((ring.start(), ring.end()), (17, 17));
    }
}
