//! Catalog Products v1: the product a subscription plan sells.

use serde::{Deserialize, Serialize};

use crate::client::PaypalClient;
use crate::error::PaypalError;
use crate::types::Link;

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// `PROD-…`.
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// `PHYSICAL`, `DIGITAL` or `SERVICE`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub category: Option<String>,
    pub image_url: Option<String>,
    pub home_url: Option<String>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// The body of `POST /v1/catalogs/products`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateProductRequest {
    pub name: String,
    /// `PHYSICAL` (PayPal's default), `DIGITAL` or `SERVICE`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Your own id for the product; PayPal makes one (`PROD-…`) otherwise.
    pub id: Option<String>,
    pub description: Option<String>,
    /// One of PayPal's categories, e.g. `SOFTWARE`.
    pub category: Option<String>,
    pub image_url: Option<String>,
    pub home_url: Option<String>,
}

impl CreateProductRequest {
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        Self { name: name.into(), kind: Some(kind.into()), ..Self::default() }
    }
}

impl PaypalClient {
    /// `POST /v1/catalogs/products`.
    pub async fn create_product(
        &self,
        request_id: &str,
        product: &CreateProductRequest,
    ) -> Result<Product, PaypalError> {
        self.api.post(&["v1", "catalogs", "products"], request_id, product).await
    }

    /// `GET /v1/catalogs/products/{id}`.
    pub async fn get_product(&self, product_id: &str) -> Result<Product, PaypalError> {
        self.api.get(&["v1", "catalogs", "products", product_id]).await
    }
}
