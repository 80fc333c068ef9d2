//! Secret fields by name: which they are (from the spec) and how a key is
//! recognized as one of them.

use crate::generated::PASSWORD_FIELDS;

/// The names of the API's secret fields and of the key itself: their values
/// are never printed. The fields are the spec's `format: password`
/// properties, read from `openapi/datafold.yaml` at build time, so a secret
/// field Datafold adds is masked as soon as the spec has it; the last name
/// is `api_key`.
pub const SECRET_FIELDS: [&str; PASSWORD_FIELDS.len() + 1] = {
    let mut fields = ["api_key"; PASSWORD_FIELDS.len() + 1];
    let mut i = 0;
    while i < PASSWORD_FIELDS.len() {
        fields[i] = PASSWORD_FIELDS[i];
        i += 1;
    }
    fields
};

/// Whether `byte` is left out when names are compared (see [`is_secret_field`]).
const fn is_separator(byte: u8) -> bool {
    matches!(byte, b'_' | b'-')
}

/// How many bytes of `name` are not separators.
const fn letters(name: &str) -> usize {
    let bytes = name.as_bytes();
    let (mut letters, mut j) = (0, 0);
    while j < bytes.len() {
        if !is_separator(bytes[j]) {
            letters += 1;
        }
        j += 1;
    }
    letters
}

/// The length of the shortest name in [`SECRET_FIELDS`] without separators:
/// a shorter key is none of them.
const SHORTEST_FIELD: usize = {
    let mut shortest = usize::MAX;
    let mut i = 0;
    while i < SECRET_FIELDS.len() {
        let letters = letters(SECRET_FIELDS[i]);
        if letters < shortest {
            shortest = letters;
        }
        i += 1;
    }
    shortest
};

/// Whether a byte (lowercased) starts a name in [`SECRET_FIELDS`] (its
/// first byte that is not a separator).
const FIRST_LETTERS: [bool; 256] = {
    let mut first = [false; 256];
    let mut i = 0;
    while i < SECRET_FIELDS.len() {
        let bytes = SECRET_FIELDS[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() && is_separator(bytes[j]) {
            j += 1;
        }
        if j < bytes.len() {
            first[bytes[j].to_ascii_lowercase() as usize] = true;
        }
        i += 1;
    }
    first
};

/// Whether every name in [`SECRET_FIELDS`] is ASCII, so that an ASCII key
/// can be compared byte by byte.
const FIELDS_ARE_ASCII: bool = {
    let mut ascii = true;
    let mut i = 0;
    while i < SECRET_FIELDS.len() {
        ascii &= SECRET_FIELDS[i].is_ascii();
        i += 1;
    }
    ascii
};

/// The length of the longest name in [`SECRET_FIELDS`] without separators.
const LONGEST_FIELD: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < SECRET_FIELDS.len() {
        let letters = letters(SECRET_FIELDS[i]);
        if letters > longest {
            longest = letters;
        }
        i += 1;
    }
    longest
};

/// The names of [`SECRET_FIELDS`] as ASCII keys are compared with them:
/// without separators, lowercased; and their lengths.
const FOLDED_FIELDS: [([u8; LONGEST_FIELD], usize); SECRET_FIELDS.len()] = {
    let mut folded = [([0u8; LONGEST_FIELD], 0); SECRET_FIELDS.len()];
    let mut i = 0;
    while i < SECRET_FIELDS.len() {
        let bytes = SECRET_FIELDS[i].as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            if !is_separator(bytes[j]) {
                folded[i].0[folded[i].1] = bytes[j].to_ascii_lowercase();
                folded[i].1 += 1;
            }
            j += 1;
        }
        i += 1;
    }
    folded
};

/// Whether `key` names a secret: one of [`SECRET_FIELDS`], compared without
/// case, `_` or `-` (so `clientSecret` and `API-Key` count too).
pub fn is_secret_field(key: &str) -> bool {
    // Called for every key of every exported payload: no allocation.
    if FIELDS_ARE_ASCII && key.is_ascii() {
        return ascii_key_is_secret(key.as_bytes());
    }
    // A key of fewer bytes than the shortest field's letters is none of them.
    if key.len() < SHORTEST_FIELD {
        return false;
    }
    // Most keys start with a letter no secret field starts with.
    let first = key.bytes().find(|&b| !is_separator(b));
    if !first.is_some_and(|b| FIRST_LETTERS[usize::from(b.to_ascii_lowercase())]) {
        return false;
    }
    // Both sides folded alike: the spec's names may be written in any case
    // or style too.
    // Full Unicode lowercasing, so that a look-alike capital (the Kelvin
    // sign in `to\u{212A}en`) does not slip a secret past.
    let fold = |name: &'static str| {
        name.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
    };
    let key_folded = || {
        key.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
    };
    SECRET_FIELDS
        .iter()
        .any(|field| key_folded().eq(fold(field)))
}

/// [`is_secret_field`] of a key given as the bytes of its text.
#[cfg(feature = "export")]
pub(crate) fn is_secret_key_bytes(key: &[u8]) -> bool {
    if FIELDS_ARE_ASCII && key.is_ascii() {
        ascii_key_is_secret(key)
    } else {
        std::str::from_utf8(key).is_ok_and(is_secret_field)
    }
}

/// [`is_secret_field`] of an ASCII key, when the names are ASCII too: the
/// key folded byte by byte (an ASCII character's full lowercase is its
/// ASCII lowercase) and compared with the names folded at compile time.
fn ascii_key_is_secret(key: &[u8]) -> bool {
    if key.len() < SHORTEST_FIELD {
        return false;
    }
    let first = key.iter().find(|&&b| !is_separator(b));
    if !first.is_some_and(|b| FIRST_LETTERS[usize::from(b.to_ascii_lowercase())]) {
        return false;
    }
    let mut folded = [0u8; LONGEST_FIELD];
    let mut len = 0;
    for &byte in key.iter().filter(|&&b| !is_separator(b)) {
        let Some(slot) = folded.get_mut(len) else {
            return false;
        };
        *slot = byte.to_ascii_lowercase();
        len += 1;
    }
    FOLDED_FIELDS
        .iter()
        .any(|(name, name_len)| *name_len == len && name[..len] == folded[..len])
}
