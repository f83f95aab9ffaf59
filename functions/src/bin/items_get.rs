//! Lambda function `items_get`: serves `tenant::routes::items::get`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::items::get)
}
