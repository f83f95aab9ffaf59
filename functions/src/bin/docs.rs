//! Lambda function `docs`: serves `tenant::docs::docs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::docs::docs).await
}
