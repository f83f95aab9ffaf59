//! Lambda function `health`: serves `tenant::meta::health`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::meta::health).await
}
