//! Lambda function `items_list`: serves `tenant::routes::items::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::items::list)
}
