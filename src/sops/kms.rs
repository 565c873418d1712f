//! AWS KMS master keys (`kms` entries): the data key encrypted by a KMS key, as sops 3.11 does it
//! (`kms/keysource.go`).
//!
//! The entry stores the key's `arn`, an optional `role` to assume first, the encryption
//! `context` (sent with both calls: KMS binds the ciphertext to it), the `aws_profile` to take
//! credentials from, and `enc`, the base64 of KMS's ciphertext blob. Opening calls KMS
//! `TrentService.Decrypt` with `{CiphertextBlob, KeyId, EncryptionContext}`; wrapping calls
//! `TrentService.Encrypt` with `{KeyId, Plaintext, EncryptionContext}`; both are JSON
//! (`application/x-amz-json-1.1`) signed with Signature Version 4 ([`aws`]).
//!
//! The region is the ARN's; the endpoint `AWS_ENDPOINT_URL_KMS`, else `AWS_ENDPOINT_URL`, else
//! `https://kms.REGION.amazonaws.com`. Credentials are found as [`aws`] describes (the entry's
//! `aws_profile` wins over `AWS_PROFILE`). An access denial says so for that ARN; no message holds
//! a credential or the data key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::aws::{self, AwsError, Credentials};
use super::keys::RecipientError;
use super::master_key::{KeyFailure, KmsKey, KmsRecipient, Payload};
use crate::plaintext::{Json, wipe};

/// Opens a `kms` entry's data key with KMS Decrypt.
pub(crate) fn unwrap(key: &KmsKey) -> Result<Option<Payload>, KeyFailure> {
    let blob = key.enc.trim();
    if STANDARD.decode(blob).is_err() {
        return Err(KeyFailure("`enc` is not base64".into()));
    }
    let mut request = request_body(&key.recipient);
    request.insert("CiphertextBlob".into(), Value::String(blob.to_owned()));
    let mut answer = call(
        &key.recipient,
        "Decrypt",
        &Value::Object(request).to_string(),
    )
    .map_err(|e| KeyFailure(e.to_string()))?;
    let plaintext = match answer.0.get_mut("Plaintext") {
        Some(Value::String(text)) => Zeroizing::new(std::mem::take(text)),
        _ => {
            return Err(KeyFailure("the Decrypt answer has no Plaintext".into()));
        }
    };
    let data_key = STANDARD
        .decode(plaintext.as_bytes())
        .map_err(|_| KeyFailure("the Decrypt answer is not base64".into()))?;
    Ok(Some(Zeroizing::new(data_key)))
}

/// Encrypts `payload` with KMS Encrypt; the base64 ciphertext blob.
pub(crate) fn wrap(payload: &[u8], key: &KmsRecipient) -> Result<String, RecipientError> {
    let mut request = request_body(key);
    request.insert("Plaintext".into(), Value::String(STANDARD.encode(payload)));
    let mut request = Value::Object(request);
    let body = Zeroizing::new(request.to_string());
    wipe(&mut request);
    let answer = call(key, "Encrypt", &body)
        .map_err(|e| RecipientError::unusable(&key.arn, e.to_string()))?;
    match answer.0.get("CiphertextBlob") {
        Some(Value::String(blob)) => Ok(blob.clone()),
        _ => Err(RecipientError::unusable(
            &key.arn,
            "the Encrypt answer has no CiphertextBlob",
        )),
    }
}

/// The region of a KMS key's ARN, as sops reads it
/// (`^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$`).
pub(crate) fn region(arn: &str) -> Option<String> {
    let pattern = regex::Regex::new(r"^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$")
        .expect("a valid regex");
    pattern.captures(arn).map(|c| c[1].to_owned())
}

/// `KeyId` and, when there is one, `EncryptionContext`.
fn request_body(key: &KmsRecipient) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("KeyId".into(), Value::String(key.arn.clone()));
    if !key.context.is_empty() {
        let context = key
            .context
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        body.insert("EncryptionContext".into(), Value::Object(context));
    }
    body
}

/// One KMS call (`Decrypt`, `Encrypt`) for `key`: credentials found, the role assumed, the
/// request signed and sent; the answer on 200, else the AWS error.
fn call(key: &KmsRecipient, operation: &'static str, body: &str) -> Result<Json, AwsError> {
    let region = region(&key.arn).ok_or(AwsError::NotAKmsArn)?;
    let mut credentials = Credentials::discover(key.aws_profile.as_deref())?;
    if let Some(role) = &key.role {
        credentials = credentials.assume_role(role, &region)?;
    }
    let endpoint = aws::endpoint("KMS", "kms", &region);
    let target = format!("TrentService.{operation}");
    let answer = aws::post(
        &endpoint,
        &region,
        "kms",
        &credentials,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
        ],
        body.as_bytes(),
    )?;
    if answer.status == 200 {
        return serde_json::from_slice(&answer.body)
            .map(Json)
            .map_err(|_| AwsError::BadAnswer {
                operation,
                missing: "JSON body",
            });
    }
    let (kind, message) = aws::error_of(&answer.body);
    let credentials = credentials.source;
    Err(match kind.as_str() {
        "AccessDeniedException" => AwsError::Denied {
            operation,
            credentials,
            message,
        },
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch" => AwsError::CredentialsRefused {
            credentials,
            kind,
            message,
        },
        _ if answer.status == 403 => AwsError::Denied {
            operation,
            credentials,
            message: format!("HTTP 403 {kind} {message}"),
        },
        _ => AwsError::Failed {
            operation,
            endpoint,
            status: answer.status,
            kind,
            message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_arn_as_sops_reads_it() {
        assert_eq!(
            region("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region("arn:aws-cn:kms:cn-north-1:123456789012:alias/sops").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(region("arn:aws:s3:::bucket"), None);
        assert_eq!(region("1234abcd-12ab"), None);
    }
}
