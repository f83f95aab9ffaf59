//! Lambda function `items_delete`: serves `tenant::routes::items::delete`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::items::delete)
}
