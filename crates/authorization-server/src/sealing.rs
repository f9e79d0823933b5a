//! Sealing at rest: AES-256-GCM under the key-encryption key from the
//! configuration, with what is sealed bound to its place by the associated
//! data (a signing key's kid, the refresh retry window's label), and keys
//! derived from it for other purposes. Used by the signing keys and the
//! refresh retry window.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tessera_core::secrets::{Randomness, RandomnessUnavailable};

/// Why sealing or opening failed. Never carries the key or the plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "key_encryption_key must be the base64 of exactly 32 random bytes (for example the output of `openssl rand -base64 32`)"
    )]
    InvalidKey,
    /// Shorter than a nonce and a tag, or an unusable nonce.
    #[error("sealed data is corrupt: {0}")]
    Corrupt(&'static str),
    /// Sealed under another key, for other associated data, or altered.
    #[error("sealed data cannot be opened with this key")]
    WrongKey,
    #[error(transparent)]
    Random(#[from] RandomnessUnavailable),
    #[error("sealing failed")]
    Seal,
}

/// The key-encryption key: 32 bytes for AES-256-GCM. Never printed.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

impl KeyEncryptionKey {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Standard base64 (what `openssl rand -base64 32` prints), surrounding
    /// whitespace ignored. The error never repeats the input.
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::InvalidKey)?;
        Ok(Self(bytes.try_into().map_err(|_| SealError::InvalidKey)?))
    }

    /// Why this key does not look like 32 random bytes, if it does not
    /// (production mode refuses such a key). Each rule is one that 32 bytes
    /// from a random generator fail with a chance below 10^-13, and that
    /// keys written by hand fail: fewer than 16 different byte values (32
    /// random bytes have about 30; this catches a repeated byte or a short
    /// repeated pattern), only printable characters (a password or a hex
    /// string encoded as base64: text, with far less than 256 bits), or a
    /// sequence of constant step (`00 01 02 …`, as in examples).
    pub fn weakness(&self) -> Option<&'static str> {
        let bytes = &self.0;
        let mut seen = [false; 256];
        for b in bytes {
            seen[usize::from(*b)] = true;
        }
        if seen.iter().filter(|s| **s).count() < 16 {
            return Some(
                "it has fewer than 16 different byte values, where 32 random bytes have about 30",
            );
        }
        if bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Some(
                "its bytes are all printable characters: it is text (a password or a hex string) encoded as base64, not 32 random bytes",
            );
        }
        let step = bytes[1].wrapping_sub(bytes[0]);
        if bytes.windows(2).all(|w| w[1].wrapping_sub(w[0]) == step) {
            return Some("its bytes are a counting sequence, not random");
        }
        None
    }

    /// A separate key for another purpose, named by `label`
    /// (HMAC-SHA-256 of the label under this key): what it seals can never
    /// be opened as a signing key, nor the other way round.
    pub fn derive(&self, label: &[u8]) -> Self {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(aws_lc_rs::hmac::sign(&key, label).as_ref());
        Self(out)
    }

    fn aead(&self) -> Result<LessSafeKey, SealError> {
        let key = UnboundKey::new(&AES_256_GCM, &self.0).map_err(|_| SealError::InvalidKey)?;
        Ok(LessSafeKey::new(key))
    }

    /// Seals `plaintext` for the row of `kid` (the associated data): a
    /// random 96-bit nonce (keys are sealed a handful of times per
    /// key-encryption key, far from the birthday bound), then ciphertext and
    /// tag.
    pub fn seal(
        &self,
        kid: &str,
        plaintext: &[u8],
        rng: &dyn Randomness,
    ) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let mut in_out = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| SealError::Seal)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens what [`KeyEncryptionKey::seal`] sealed for `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Corrupt("sealed key too short"));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Corrupt("nonce"))?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .aead()?
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| SealError::WrongKey)?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_runtime::SystemRandomness;

    #[test]
    fn sealing_binds_the_key_and_the_kid() -> Result<(), SealError> {
        let kek = KeyEncryptionKey::from_bytes([7; 32]);
        let sealed = kek.seal("k1", b"private key bytes", &SystemRandomness)?;
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(kek.open("k1", &sealed)?, b"private key bytes");
        assert!(matches!(kek.open("k2", &sealed), Err(SealError::WrongKey)));
        let other = KeyEncryptionKey::from_bytes([8; 32]);
        assert!(matches!(
            other.open("k1", &sealed),
            Err(SealError::WrongKey)
        ));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(kek.open("k1", &tampered).is_err());
        assert!(matches!(
            kek.open("k1", &sealed[..20]),
            Err(SealError::Corrupt(_))
        ));
        assert_ne!(
            sealed,
            kek.seal("k1", b"private key bytes", &SystemRandomness)?,
            "fresh nonce"
        );
        Ok(())
    }

    /// Issue 13 item 7: the weak-key rule refuses what people write by hand
    /// and accepts what a random generator gives.
    #[test]
    fn issue13_item7_weak_encryption_keys_are_recognised() -> Result<(), SealError> {
        let mut counting = [0u8; 32];
        for (i, b) in counting.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7).wrapping_add(3);
        }
        let mut pattern = [0u8; 32];
        for (i, b) in pattern.iter_mut().enumerate() {
            *b = [0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90][i % 8];
        }
        let text = *b"correct horse battery staple 123";
        let hex = *b"9f86d081884c7d659a2feaa0c55ad015";
        for (weak, why) in [
            ([0u8; 32], "different byte values"),
            ([0x5e; 32], "different byte values"),
            (pattern, "different byte values"),
            (text, "printable"),
            (hex, "different byte values"),
            (counting, "counting"),
        ] {
            let found = KeyEncryptionKey::from_bytes(weak).weakness();
            assert!(matches!(found, Some(w) if w.contains(why)), "{found:?}");
        }
        let mut random = [0u8; 32];
        for _ in 0..1000 {
            Randomness::fill(&SystemRandomness, &mut random)?;
            assert_eq!(KeyEncryptionKey::from_bytes(random).weakness(), None);
        }
        Ok(())
    }

    #[test]
    fn encryption_keys_parse_from_base64_and_never_print() {
        let text = STANDARD.encode([42u8; 32]);
        let key = KeyEncryptionKey::from_base64(&format!(" {text}\n"));
        assert!(key.is_ok());
        let shown = format!("{key:?}");
        assert!(!shown.contains(&text) && !shown.contains("42"), "{shown}");
        for bad in [
            STANDARD.encode([1u8; 16]),
            STANDARD.encode([1u8; 33]),
            "not base64!".into(),
            String::new(),
        ] {
            let err = KeyEncryptionKey::from_base64(&bad)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(
                matches!(&err, Err(e) if e.contains("32 random bytes")),
                "{err:?}"
            );
        }
    }
}
