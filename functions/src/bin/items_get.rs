//! Lambda function `items_get`: serves `tenant::items::get`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::items::get).await
}
