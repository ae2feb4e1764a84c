//! 个人信息加密存储: personal data (身份证号码, 手机号, the scans) sealed at rest with SM4-GCM, and the blind index
//! (盲索引, HMAC-SM3) that lets the platform find a row by a mobile number it no longer stores in clear.
//!
//! This module is pure: it takes the nonce from its caller (the store and the blob layer draw it from the
//! operating system), so both `sealdesk-store` and `sealdesk-adapters` use one implementation without either
//! depending on the other. The block cipher is the RustCrypto `sm4` crate (GB/T 32907) inside the generic GCM
//! of `aes-gcm` (NIST SP 800-38D, as RFC 8998 uses SM4-GCM); nothing here implements block crypto by hand.
//!
//! A sealed text is `sm4gcm:<kid>:<base64(nonce ‖ ciphertext ‖ tag)>`; a sealed blob is [`BLOB_MAGIC`], the key
//! id's length and bytes, then nonce ‖ ciphertext ‖ tag. The associated data is the value's *place* (e.g.
//! `orders.123.holder.id_number`): a value copied into another column or row fails to open, as a tampered one
//! does. Values written before encryption existed carry no prefix or magic and are read as they are, so old
//! databases and blob stores keep working until `sealdesk keys reencrypt` rewrites them.

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::array::Array;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{KeyInit, KeySizeUser};
use zeroize::Zeroizing;

/// SM4 in Galois/Counter mode with a 96-bit nonce and a 128-bit tag.
type Sm4Gcm = aes_gcm::AesGcm<sm4::Sm4, U12>;

/// What starts every sealed text value.
pub const TEXT_PREFIX: &str = "sm4gcm:";
/// What starts every sealed blob. No upload begins so: uploads are JPEG, PNG or PDF by their magic bytes.
pub const BLOB_MAGIC: &[u8; 8] = b"SDSM4G1\n";
/// Bytes of an SM4 key.
pub const KEY_LEN: usize = 16;
/// Bytes of a nonce (96 bits: GCM's own counter layout, no GHASH of the nonce).
pub const NONCE_LEN: usize = 12;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;
/// The least bytes of a blind-index key (HMAC-SM3's block is 64; 32 is SM3's output and the audit key's floor).
pub const MIN_INDEX_KEY_LEN: usize = 32;

/// Why a key could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key id is 1–32 letters, digits, `-` or `_` (it is written inside every sealed value).
    #[error("bad key id {0:?}: use 1-32 letters, digits, '-' or '_'")]
    BadKeyId(String),
    /// The key is not the right number of hex digits.
    #[error("the key {0} must be {1} hex digits")]
    BadKey(String, usize),
    /// A ring needs at least one key.
    #[error("no data key given")]
    Empty,
    /// Two keys of a ring have one id.
    #[error("key id {0} is given twice")]
    DuplicateKeyId(String),
    /// An entry of `SEALDESK_DATA_KEYS` is not `kid:hex`.
    #[error("bad data key entry {0:?}: write kid:32-hex-digits")]
    BadEntry(String),
    /// The blind-index key is shorter than [`MIN_INDEX_KEY_LEN`] bytes.
    #[error("the index key is {0} bytes: it must be at least {MIN_INDEX_KEY_LEN}")]
    ShortIndexKey(usize),
}

/// Why a sealed value could not be opened. Never a panic: every stored value is untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed under a key id the ring does not hold (an old key dropped before `keys reencrypt` ran, or a
    /// database from another platform).
    #[error("sealed under data key {0:?}, which is not configured")]
    UnknownKey(String),
    /// The value does not have the sealed layout (cut short, bad base64).
    #[error("sealed value is malformed")]
    Malformed,
    /// The tag does not verify: the value was altered, or moved from another place.
    #[error("sealed value failed authentication (altered, or moved from another place)")]
    Tampered,
    /// The opened bytes of a text value are not UTF-8 (only possible with the right key and a wrong writer).
    #[error("sealed text is not UTF-8")]
    NotText,
}

fn valid_kid(kid: &str) -> bool {
    (1..=32).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One SM4 data key (数据密钥) with its id. The key bytes are wiped when it is dropped.
pub struct DataKey {
    kid: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key bytes.
        f.debug_struct("DataKey").field("kid", &self.kid).finish()
    }
}

impl DataKey {
    /// A key from its id and 16 bytes.
    pub fn new(kid: &str, key: [u8; KEY_LEN]) -> Result<DataKey, KeyError> {
        let key = Zeroizing::new(key);
        if !valid_kid(kid) {
            return Err(KeyError::BadKeyId(kid.into()));
        }
        Ok(DataKey {
            kid: kid.into(),
            key,
        })
    }

    /// A key from its id and 32 hex digits.
    pub fn from_hex(kid: &str, hex_key: &str) -> Result<DataKey, KeyError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(hex_key.trim(), key.as_mut_slice())
            .map_err(|_| KeyError::BadKey(kid.into(), 2 * KEY_LEN))?;
        DataKey::new(kid, *key)
    }

    /// The key's id, written into every value it seals.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn cipher(&self) -> Sm4Gcm {
        let key: &aes_gcm::Key<Sm4Gcm> =
            <&Array<u8, <Sm4Gcm as KeySizeUser>::KeySize>>::from(&*self.key);
        Sm4Gcm::new(key)
    }
}

/// SM4-GCM of `plain` under `key` with `nonce` and associated data `aad`: ciphertext ‖ tag. The primitive under
/// [`DataKeys`]; public for the known-answer tests (RFC 8998).
pub fn sm4_gcm_seal(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plain: &[u8],
) -> Vec<u8> {
    let cipher = Sm4Gcm::new(<&Array<u8, _>>::from(key));
    seal_with(&cipher, nonce, aad, plain)
}

/// Opens what [`sm4_gcm_seal`] made; [`OpenError::Tampered`] when the tag does not verify.
pub fn sm4_gcm_open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let cipher = Sm4Gcm::new(<&Array<u8, _>>::from(key));
    open_with(&cipher, nonce, aad, sealed)
}

fn seal_with(cipher: &Sm4Gcm, nonce: &[u8; NONCE_LEN], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(plain.len() + TAG_LEN);
    buf.extend_from_slice(plain);
    let nonce = Array::<u8, U12>::from(*nonce);
    match cipher.encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into()) {
        Ok(tag) => buf.extend_from_slice(&tag),
        Err(_) => over_gcm_limit(),
    }
    buf
}

/// GCM refuses only plaintexts over 64 GiB and associated data over 2^61 bytes; nothing stored comes near
/// (uploads are capped at megabytes), so this is never reached: sealing an unauthenticated value instead would be
/// the one wrong answer.
#[cold]
#[allow(clippy::panic)]
fn over_gcm_limit() -> ! {
    panic!("SM4-GCM input over the GCM length limit")
}

fn open_with(
    cipher: &Sm4Gcm,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, OpenError> {
    let Some(split) = sealed.len().checked_sub(TAG_LEN) else {
        return Err(OpenError::Malformed);
    };
    let (ct, tag) = sealed.split_at(split);
    let tag =
        Array::<u8, aes_gcm::aead::consts::U16>::try_from(tag).map_err(|_| OpenError::Malformed)?;
    let nonce = Array::<u8, U12>::from(*nonce);
    let mut buf = ct.to_vec();
    cipher
        .decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| OpenError::Tampered)?;
    Ok(buf)
}

/// The ring of data keys: the current one seals, every one opens (older keys stay until `keys reencrypt` has
/// rewritten what they sealed). Configured as `SEALDESK_DATA_KEYS=kid:hex,kid:hex`, first = current.
#[derive(Debug)]
pub struct DataKeys {
    /// Seals and opens.
    current: DataKey,
    /// Only open.
    older: Vec<DataKey>,
}

impl DataKeys {
    /// A ring whose first key is current.
    pub fn new(keys: Vec<DataKey>) -> Result<DataKeys, KeyError> {
        for (i, k) in keys.iter().enumerate() {
            if keys.iter().skip(i + 1).any(|o| o.kid == k.kid) {
                return Err(KeyError::DuplicateKeyId(k.kid.clone()));
            }
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(KeyError::Empty)?;
        Ok(DataKeys {
            current,
            older: keys.collect(),
        })
    }

    fn all(&self) -> impl Iterator<Item = &DataKey> {
        std::iter::once(&self.current).chain(&self.older)
    }

    /// Parses `kid:hex32,kid:hex32` (spaces around entries allowed), first = current.
    pub fn parse(spec: &str) -> Result<DataKeys, KeyError> {
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, hex_key) = entry
                .split_once(':')
                .ok_or_else(|| KeyError::BadEntry(entry.chars().take(8).collect()))?;
            keys.push(DataKey::from_hex(kid.trim(), hex_key)?);
        }
        DataKeys::new(keys)
    }

    /// The key new values are sealed under.
    pub fn current(&self) -> &DataKey {
        &self.current
    }

    /// The ids of the ring, current first.
    pub fn kids(&self) -> Vec<&str> {
        self.all().map(|k| k.kid.as_str()).collect()
    }

    fn get(&self, kid: &str) -> Result<&DataKey, OpenError> {
        self.all()
            .find(|k| k.kid == kid)
            .ok_or_else(|| OpenError::UnknownKey(kid.into()))
    }

    /// Seals a text value for `place` under the current key with `nonce` (fresh and random for every value).
    pub fn seal_text(&self, place: &str, plain: &str, nonce: [u8; NONCE_LEN]) -> String {
        use base64::Engine;
        let key = self.current();
        let mut raw = nonce.to_vec();
        raw.extend(seal_with(
            &key.cipher(),
            &nonce,
            place.as_bytes(),
            plain.as_bytes(),
        ));
        format!(
            "{TEXT_PREFIX}{}:{}",
            key.kid,
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// The plain text of a stored value of `place`: opened when sealed, as it is when written before sealing
    /// existed (no prefix).
    pub fn open_text(&self, place: &str, stored: &str) -> Result<String, OpenError> {
        let Some((kid, body)) = parse_sealed_text(stored)? else {
            return Ok(stored.to_owned());
        };
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        let key = self.get(kid)?;
        let (nonce, sealed) = split_nonce(&raw)?;
        let plain = open_with(&key.cipher(), &nonce, place.as_bytes(), sealed)?;
        String::from_utf8(plain).map_err(|_| OpenError::NotText)
    }

    /// Whether a stored text must be rewritten to be sealed under the current key: it is plain, or sealed under
    /// an older key. What `keys reencrypt` asks of each value, so that a second run rewrites nothing.
    pub fn text_is_stale(&self, stored: &str) -> bool {
        match parse_sealed_text(stored) {
            Ok(Some((kid, _))) => kid != self.current().kid,
            _ => true,
        }
    }

    /// A check value of the ring's key `kid`: the GCM tag of the empty text under a fixed nonce and place, equal
    /// for equal keys and telling nothing about the key (it is SM4 output under it). `None` for a kid not in
    /// the ring. Lets instances find out that they were given different keys under one id.
    pub fn key_check(&self, kid: &str) -> Option<String> {
        let key = self.get(kid).ok()?;
        Some(hex::encode(seal_with(
            &key.cipher(),
            &[0; NONCE_LEN],
            b"sealdesk data key check",
            &[],
        )))
    }

    /// Seals blob bytes for `place` under the current key with `nonce`.
    pub fn seal_blob(&self, place: &str, plain: &[u8], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        let key = self.current();
        let kid = key.kid.as_bytes();
        let mut out = Vec::with_capacity(
            BLOB_MAGIC.len() + 1 + kid.len() + NONCE_LEN + plain.len() + TAG_LEN,
        );
        out.extend_from_slice(BLOB_MAGIC);
        // A kid is at most 32 bytes (`valid_kid`), so its length fits one byte.
        out.push(u8::try_from(kid.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(kid);
        out.extend_from_slice(&nonce);
        out.extend(seal_with(&key.cipher(), &nonce, place.as_bytes(), plain));
        out
    }

    /// The plain bytes of a stored blob of `place`: opened when it starts with [`BLOB_MAGIC`], as they are
    /// otherwise (written before sealing existed).
    pub fn open_blob(&self, place: &str, stored: Vec<u8>) -> Result<Vec<u8>, OpenError> {
        let Some((kid, rest)) = parse_sealed_blob(&stored)? else {
            return Ok(stored);
        };
        let key = self.get(kid)?;
        let (nonce, sealed) = split_nonce(rest)?;
        open_with(&key.cipher(), &nonce, place.as_bytes(), sealed)
    }

    /// Whether stored blob bytes must be rewritten to be sealed under the current key.
    pub fn blob_is_stale(&self, stored: &[u8]) -> bool {
        match parse_sealed_blob(stored) {
            Ok(Some((kid, _))) => kid != self.current().kid,
            _ => true,
        }
    }
}

/// Whether a stored text value is sealed (has the prefix), whatever its key.
pub fn is_sealed_text(stored: &str) -> bool {
    stored.starts_with(TEXT_PREFIX)
}

/// Whether stored blob bytes are sealed (start with the magic), whatever their key.
pub fn is_sealed_blob(stored: &[u8]) -> bool {
    stored.starts_with(BLOB_MAGIC)
}

/// `(kid, base64 body)` of a sealed text; `None` for a plain one.
fn parse_sealed_text(stored: &str) -> Result<Option<(&str, &str)>, OpenError> {
    let Some(rest) = stored.strip_prefix(TEXT_PREFIX) else {
        return Ok(None);
    };
    let (kid, body) = rest.split_once(':').ok_or(OpenError::Malformed)?;
    if !valid_kid(kid) {
        return Err(OpenError::Malformed);
    }
    Ok(Some((kid, body)))
}

/// `(kid, nonce ‖ ciphertext ‖ tag)` of a sealed blob; `None` for a plain one.
fn parse_sealed_blob(stored: &[u8]) -> Result<Option<(&str, &[u8])>, OpenError> {
    let Some(rest) = stored.strip_prefix(BLOB_MAGIC.as_slice()) else {
        return Ok(None);
    };
    let (&n, rest) = rest.split_first().ok_or(OpenError::Malformed)?;
    let n = usize::from(n);
    if rest.len() < n {
        return Err(OpenError::Malformed);
    }
    let (kid, rest) = rest.split_at(n);
    let kid = std::str::from_utf8(kid).map_err(|_| OpenError::Malformed)?;
    if !valid_kid(kid) {
        return Err(OpenError::Malformed);
    }
    Ok(Some((kid, rest)))
}

fn split_nonce(raw: &[u8]) -> Result<([u8; NONCE_LEN], &[u8]), OpenError> {
    if raw.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenError::Malformed);
    }
    let (nonce, rest) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
    Ok((nonce, rest))
}

/// The blind-index key (盲索引密钥): HMAC-SM3 under it turns a mobile number into a lookup value that says
/// nothing about the number to whoever reads the database without the key. Wiped when dropped.
pub struct IndexKey {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey(..)")
    }
}

impl IndexKey {
    /// A key of at least [`MIN_INDEX_KEY_LEN`] bytes.
    pub fn new(key: Vec<u8>) -> Result<IndexKey, KeyError> {
        let key = Zeroizing::new(key);
        if key.len() < MIN_INDEX_KEY_LEN {
            return Err(KeyError::ShortIndexKey(key.len()));
        }
        Ok(IndexKey { key })
    }

    /// A key from hex digits (`SEALDESK_INDEX_KEY`).
    pub fn from_hex(hex_key: &str) -> Result<IndexKey, KeyError> {
        let bytes =
            Zeroizing::new(hex::decode(hex_key.trim()).map_err(|_| {
                KeyError::BadKey("SEALDESK_INDEX_KEY".into(), 2 * MIN_INDEX_KEY_LEN)
            })?);
        IndexKey::new(bytes.to_vec())
    }

    /// HMAC-SM3 of `value` in the namespace `kind` (so that one value of two kinds indexes differently), hex.
    pub fn index(&self, kind: &str, value: &str) -> String {
        use hmac::{KeyInit as _, Mac};
        // HMAC takes a key of any length; `new` has checked the floor.
        let Ok(mut mac) = hmac::Hmac::<sm3::Sm3>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The blind index of a mobile number, over its normalised form ([`normalise_mobile`]).
    pub fn mobile(&self, mobile: &str) -> String {
        self.index("mobile", &normalise_mobile(mobile))
    }

    /// The blind index of a holder key ([`crate::precheck::holder_key`]), which holds a credit code or an ID
    /// number.
    pub fn holder(&self, holder_key: &str) -> String {
        self.index("holder", holder_key)
    }
}

/// The lookup value of a holder key for a store without keys (tests, tools), where the order's body holds the
/// ID number in clear anyway: plain SM3 in the same namespace layout as [`IndexKey::index`], prefixed `sm3:` so
/// that it never equals a keyed index and `keys reencrypt` replaces it.
pub fn unkeyed_holder_index(holder_key: &str) -> String {
    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    h.update(b"holder\0");
    h.update(holder_key.as_bytes());
    format!("sm3:{}", hex::encode(h.finalize()))
}

/// A mobile number as it is indexed: its digits only, without a leading `86` country code on a 13-digit number,
/// so that `158 0000 1123`, `158-0000-1123` and `+86 15800001123` index alike.
pub fn normalise_mobile(mobile: &str) -> String {
    let digits: String = mobile.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("86") {
        Some(rest) if digits.len() == 13 => rest.to_owned(),
        _ => digits,
    }
}
