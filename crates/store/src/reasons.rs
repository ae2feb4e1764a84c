//! The catalogue of coded rejection reasons (审核不通过原因): fixed codes and fields, texts an administrator edits.

use sqlx::Row;

use crate::{Result, Store, StoreError};

/// One reason of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectReason {
    /// Stable code.
    pub code: String,
    /// The form field or upload it concerns.
    pub field: String,
    /// The text the applicant reads.
    pub text: String,
}

impl Store {
    /// The catalogue, in the order reviewers see it.
    pub async fn reject_reasons(&self) -> Result<Vec<RejectReason>> {
        sqlx::query("SELECT code, field, text FROM reject_reasons ORDER BY position, code")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(RejectReason {
                    code: r.try_get("code")?,
                    field: r.try_get("field")?,
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }

    /// Changes the text of reason `code`.
    pub async fn set_reject_reason_text(&self, code: &str, text: &str) -> Result<()> {
        let r = sqlx::query("UPDATE reject_reasons SET text = $1 WHERE code = $2")
            .bind(text)
            .bind(code)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
