//! Sample photos for new users, and what uploads may be.

/// The largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;

/// Image types accepted for upload, with the magic bytes that start a file of
/// that type. SVG is deliberately absent: an uploaded SVG could carry script.
const ACCEPTED: &[(&str, &[&[u8]])] = &[
    ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
    ("image/jpeg", &[b"\xff\xd8\xff"]),
    ("image/gif", &[b"GIF87a", b"GIF89a"]),
    ("image/webp", &[b"RIFF"]),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("uploads must be image/png, image/jpeg, image/gif or image/webp")]
    UnsupportedType,
    #[error("the content does not look like the declared image type")]
    ContentMismatch,
    #[error("the upload is empty")]
    Empty,
    #[error("the upload is larger than {MAX_UPLOAD_BYTES} bytes")]
    TooLarge,
}

/// Checks an upload's declared type against its first bytes.
pub fn check_upload(content_type: &str, bytes: &[u8]) -> Result<&'static str, UploadError> {
    if bytes.is_empty() {
        return Err(UploadError::Empty);
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(UploadError::TooLarge);
    }
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (accepted, magics) = ACCEPTED
        .iter()
        .find(|(t, _)| *t == essence)
        .ok_or(UploadError::UnsupportedType)?;
    let webp_ok = *accepted != "image/webp" || bytes.get(8..12) == Some(b"WEBP");
    if magics.iter().any(|m| bytes.starts_with(m)) && webp_ok {
        Ok(accepted)
    } else {
        Err(UploadError::ContentMismatch)
    }
}

/// The sample photos every new user starts with: small generated SVG
/// landscapes, varied by a seed so users tell theirs apart.
pub fn samples(seed: u32) -> Vec<(String, Vec<u8>)> {
    let palettes = [
        ("Sunset over the bay", "#ff7e5f", "#feb47b", "#2b4162"),
        ("Mountain morning", "#a1c4fd", "#c2e9fb", "#4b6043"),
        ("Night harbour", "#0f2027", "#2c5364", "#e0c068"),
    ];
    palettes
        .iter()
        .enumerate()
        .map(|(i, (title, sky_top, sky_bottom, ground))| {
            let sun_x = 60 + (seed.wrapping_add(i as u32 * 97) % 200);
            let svg = format!(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200" viewBox="0 0 320 200"><defs><linearGradient id="s" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{sky_top}"/><stop offset="1" stop-color="{sky_bottom}"/></linearGradient></defs><rect width="320" height="200" fill="url(#s)"/><circle cx="{sun_x}" cy="70" r="26" fill="#fff6d5" opacity="0.9"/><path d="M0 150 L70 95 L130 140 L200 80 L320 150 L320 200 L0 200 Z" fill="{ground}"/><text x="12" y="190" font-family="sans-serif" font-size="14" fill="#ffffff">{title}</text></svg>"##
            );
            ((*title).to_owned(), svg.into_bytes())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_must_match_their_declared_type() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        assert_eq!(check_upload("image/png", png), Ok("image/png"));
        assert_eq!(check_upload("IMAGE/PNG; charset=x", png), Ok("image/png"));
        assert_eq!(
            check_upload("image/jpeg", png),
            Err(UploadError::ContentMismatch)
        );
        assert_eq!(
            check_upload("image/svg+xml", b"<svg/>"),
            Err(UploadError::UnsupportedType)
        );
        assert_eq!(
            check_upload("text/html", b"<script>"),
            Err(UploadError::UnsupportedType)
        );
        assert_eq!(check_upload("image/png", b""), Err(UploadError::Empty));
        assert_eq!(
            check_upload("image/webp", b"RIFF\0\0\0\0WAVE"),
            Err(UploadError::ContentMismatch)
        );
        assert_eq!(
            check_upload("image/webp", b"RIFF\0\0\0\0WEBPVP8 "),
            Ok("image/webp")
        );
        let big = [
            b"\x89PNG\r\n\x1a\n".as_slice(),
            &vec![0u8; MAX_UPLOAD_BYTES],
        ]
        .concat();
        assert_eq!(check_upload("image/png", &big), Err(UploadError::TooLarge));
    }

    #[test]
    fn samples_are_svg_and_differ_by_seed() {
        let a = samples(1);
        assert_eq!(a.len(), 3);
        assert!(a.iter().all(|(_, b)| b.starts_with(b"<svg")));
        assert_ne!(samples(1)[0].1, samples(2)[0].1);
    }
}
