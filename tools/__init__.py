"""ShopOps tools package."""
