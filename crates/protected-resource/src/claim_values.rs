//! Claim shapes and the lifetime check shared by both modes.

use serde::Deserialize;

use crate::clock::UnixTime;
use crate::error::GuardError;

/// `aud`: one string or an array of them (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(a) => vec![a],
            Self::Many(v) => v,
        }
    }
}

/// A NumericDate (RFC 7519 §2): seconds, possibly with a fraction, which
/// is dropped.
#[derive(Clone, Copy)]
pub(crate) struct NumericDate(pub(crate) UnixTime);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(i) = n.as_i64() {
            return Ok(Self(i));
        }
        match n.as_f64() {
            // In range and finite: the fraction goes.
            Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(Self(f.floor() as i64)),
            _ => Err(serde::de::Error::custom("a NumericDate out of range")),
        }
    }
}

/// `exp` and `nbf` against `now`, each with `leeway` seconds of tolerance
/// for clock skew: valid while `now < exp + leeway` and once
/// `now >= nbf - leeway`.
pub(crate) fn check_lifetime(
    now: UnixTime,
    leeway: i64,
    exp: UnixTime,
    nbf: Option<UnixTime>,
) -> Result<(), GuardError> {
    if now >= exp.saturating_add(leeway) {
        return Err(GuardError::InvalidToken("the token has expired"));
    }
    if let Some(nbf) = nbf
        && now < nbf.saturating_sub(leeway)
    {
        return Err(GuardError::InvalidToken("the token is not valid yet"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_edges_with_leeway() {
        let now = 1000;
        assert!(check_lifetime(now, 30, now - 29, None).is_ok());
        assert!(check_lifetime(now, 30, now - 30, None).is_err());
        assert!(check_lifetime(now, 0, now + 1, None).is_ok());
        assert!(check_lifetime(now, 0, now, None).is_err());
        assert!(check_lifetime(now, 30, now + 60, Some(now + 30)).is_ok());
        assert!(check_lifetime(now, 30, now + 60, Some(now + 31)).is_err());
        assert!(check_lifetime(now, 30, i64::MAX, Some(i64::MIN)).is_ok());
    }

    #[test]
    fn numeric_dates_may_have_fractions() {
        let d: NumericDate = serde_json::from_str("1.9").unwrap();
        assert_eq!(d.0, 1);
        assert!(serde_json::from_str::<NumericDate>("\"1\"").is_err());
        assert!(serde_json::from_str::<NumericDate>("1e300").is_err());
    }
}
