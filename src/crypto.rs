//! Secrets at rest and one-way hashes: AES-256-GCM for client secrets, SHA-256 for tokens we
//! only need to recognise, argon2 for passwords.
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key must be 32 bytes")]
    BadKey,
    #[error("stored secret is corrupt or was sealed with another key")]
    Corrupt,
    #[error("password hashing failed")]
    Hash,
}

/// Seals and opens secrets with AES-256-GCM; the stored form is base64(nonce || ciphertext).
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    /// A box for a 32-byte key.
    pub fn new(key: &[u8]) -> Result<SecretBox, CryptoError> {
        let key: [u8; 32] = key
            .get(..32)
            .and_then(|k| k.try_into().ok())
            .ok_or(CryptoError::BadKey)?;
        Ok(SecretBox {
            cipher: Aes256Gcm::new(&key.into()),
        })
    }

    /// Encrypts a secret for storage.
    pub fn seal(&self, secret: &SecretString) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), secret.expose_secret().as_bytes())
            .map_err(|_| CryptoError::Corrupt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts a stored secret.
    pub fn open(&self, stored: &str) -> Result<SecretString, CryptoError> {
        let raw = STANDARD.decode(stored).map_err(|_| CryptoError::Corrupt)?;
        if raw.len() < 13 {
            return Err(CryptoError::Corrupt);
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::Corrupt)?;
        String::from_utf8(pt)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Corrupt)
    }
}

/// A random URL-safe token with 256 bits of entropy.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256, for tokens stored only as hashes.
pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// An argon2id hash of a password.
pub fn hash_password(password: &SecretString) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Hash)
}

/// Whether `password` matches the stored argon2 hash.
pub fn verify_password(password: &SecretString, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_nonce_varies() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let s = SecretString::from("client-secret-123".to_owned());
        let a1 = b.seal(&s).unwrap();
        let a2 = b.seal(&s).unwrap();
        assert_ne!(a1, a2);
        assert!(!a1.contains("client-secret"));
        assert_eq!(b.open(&a1).unwrap().expose_secret(), "client-secret-123");
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let other = SecretBox::new(&[8u8; 32]).unwrap();
        let sealed = b.seal(&SecretString::from("x".to_owned())).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(b.open("AAAA").is_err());
        assert!(SecretBox::new(&[1u8; 8]).is_err());
    }

    #[test]
    fn passwords_verify() {
        let pw = SecretString::from("correct horse".to_owned());
        let h = hash_password(&pw).unwrap();
        assert!(verify_password(&pw, &h));
        assert!(!verify_password(
            &SecretString::from("wrong".to_owned()),
            &h
        ));
        assert!(!verify_password(&pw, "not-a-hash"));
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        assert_ne!(random_token(), random_token());
        assert_eq!(sha256_hex("abc"), sha256_hex("abc"));
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
