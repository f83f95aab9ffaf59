//! Lambda function `items_get`: serves `tenant::items::get`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::items::get)
}
