//! Lambda function `audit_list`: serves `tenant::audit_log::list`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::audit_log::list).await
}
