//! Lambda function `docs`: serves `tenant::meta::docs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::meta::docs).await
}
