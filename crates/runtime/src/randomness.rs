//! The operating system's CSPRNG, through aws-lc: the one randomness source
//! that is not a test's. With the `tessera-core` feature it is the core's
//! `Randomness`; without it (the guard, the client side) it is used through
//! [`SystemRandomness::fill`].

/// The system random number generator failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomnessFailed;

/// The operating system's CSPRNG, through aws-lc.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandomness;

impl SystemRandomness {
    /// Fills `dest` with random bytes.
    pub fn fill(&self, dest: &mut [u8]) -> Result<(), RandomnessFailed> {
        use aws_lc_rs::rand::SecureRandom as _;
        // The one place that reads the OS random number generator (see
        // clippy.toml).
        #[allow(clippy::disallowed_methods)]
        let rng = aws_lc_rs::rand::SystemRandom::new();
        rng.fill(dest).map_err(|_| RandomnessFailed)
    }
}

#[cfg(feature = "tessera-core")]
impl tessera_core::secrets::Randomness for SystemRandomness {
    fn fill(&self, dest: &mut [u8]) -> Result<(), tessera_core::secrets::RandomnessUnavailable> {
        SystemRandomness::fill(self, dest).map_err(|_| tessera_core::secrets::RandomnessUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_with_fresh_bytes() -> Result<(), RandomnessFailed> {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        SystemRandomness.fill(&mut a)?;
        SystemRandomness.fill(&mut b)?;
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
        Ok(())
    }
}
