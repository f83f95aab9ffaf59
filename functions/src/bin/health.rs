//! Lambda function `health`: serves `tenant::service::health`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::service::health).await
}
