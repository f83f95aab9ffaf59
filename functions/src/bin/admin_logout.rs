//! Lambda function `admin_logout`: serves `tenant::admin::logout`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::admin::logout).await
}
