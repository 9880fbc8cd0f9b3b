"""ShopOps policies package."""
