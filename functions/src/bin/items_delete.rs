//! Lambda function `items_delete`: serves `tenant::items::delete`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::items::delete)
}
