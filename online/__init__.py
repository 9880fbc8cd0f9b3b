"""ShopOps online package."""
