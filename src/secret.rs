//! Random identifiers and secret tokens, and the hash under which a token is stored (a stolen
//! database gives no usable session or advisor token).

use rand::RngCore;

/// The hex SHA-256 of a secret token: what is stored and looked up instead of the token.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new random secret: 32 bytes, hex.
pub fn new_token() -> String {
    random_hex::<32>()
}

/// A new random conversation id: 12 bytes, hex (public to advisors, unlike the session token).
pub fn new_id() -> String {
    random_hex::<12>()
}

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}
