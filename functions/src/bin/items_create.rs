//! Lambda function `items_create`: serves `tenant::items::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::items::create)
}
