//! How a provider's failure reads on the payment or refund it befell.

use payhub_core::payment::Failure;

use crate::providers::ProviderError;

/// A provider failure as the merchant sees it on the resource, with a stable code.
pub(crate) fn provider_failure(error: &ProviderError) -> Failure {
    let code = match error {
        ProviderError::Timeout(_) => "provider_timeout".to_owned(),
        ProviderError::Unavailable { .. } => "provider_unavailable".to_owned(),
        ProviderError::Rejected { code, .. } => {
            format!("provider_rejected:{}", code.to_ascii_lowercase())
        }
        ProviderError::FundingDeclined { code, .. } => code.to_ascii_lowercase(),
        ProviderError::Protocol { .. } => "provider_protocol_error".to_owned(),
        ProviderError::Unsupported { .. } => "provider_unsupported".to_owned(),
    };
    Failure { code, message: error.to_string() }
}
