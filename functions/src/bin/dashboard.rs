//! Lambda function `dashboard`: serves `tenant::dashboard::dashboard`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::dashboard::dashboard).await
}
