//! Lambda function `not_found`: serves `tenant::meta::not_found_route`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::meta::not_found_route).await
}
