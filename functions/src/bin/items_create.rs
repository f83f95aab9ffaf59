//! Lambda function `items_create`: serves `tenant::routes::items::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::items::create)
}
