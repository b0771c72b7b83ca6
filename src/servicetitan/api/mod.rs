//! Typed calls on [`TenantClient`](super::TenantClient), one file per API area.
//!
//! Each list endpoint has a stream over every record (`customers`) and a one-page call returning
//! the envelope (`customers_page`).
mod crm;
mod jpm;
mod reference;

/// Declares a list endpoint's stream and one-page methods.
macro_rules! list_endpoint {
    ($(#[$doc:meta])* $stream:ident, $page:ident, $ty:ty, $module:expr, $path:expr) => {
        $(#[$doc])*
        /// Follows `hasMore` to the end; fails rather than truncating.
        pub fn $stream(
            &self,
            query: $crate::servicetitan::ListQuery,
        ) -> futures::stream::BoxStream<'static, Result<$ty, $crate::servicetitan::Error>> {
            self.stream_of($module, ($path).to_string(), query)
        }

        $(#[$doc])*
        /// One page (1-based) with the envelope.
        pub async fn $page(
            &self,
            query: &$crate::servicetitan::ListQuery,
            page: u32,
        ) -> Result<$crate::servicetitan::Page<$ty>, $crate::servicetitan::Error> {
            self.page_of($module, &$path, query, page).await
        }
    };
}
pub(crate) use list_endpoint;
