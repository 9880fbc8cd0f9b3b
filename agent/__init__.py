"""ShopOps agent package."""
