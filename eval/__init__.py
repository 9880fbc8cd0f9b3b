"""ShopOps eval package."""
