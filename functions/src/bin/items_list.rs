//! Lambda function `items_list`: serves `tenant::items::list`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::items::list).await
}
